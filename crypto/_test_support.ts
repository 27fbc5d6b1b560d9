/**
 * Fixtures shared by the crypto tests: the fixture keys and the two vector files. Test-only;
 * nothing outside `*_test.ts` imports it.
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { libCryptoCacheDir, LIBRARY_FILE, readCached } from "./libcrypto_cache.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
import { webCrypto } from "./webcrypto.ts";
import type { PrivateKey } from "./types.ts";

const ROOT = new URL("../", import.meta.url);

/** Absolute path of a file in the repository. */
export function repoPath(relative: string): string {
  return fileURLToPath(new URL(relative, ROOT));
}

/** PEM text of a fixture key, e.g. `"alice"` or `"weak1024"`. */
export function fixturePem(name: string): string {
  return Deno.readTextFileSync(repoPath(`tests/fixtures/keys/${name}.pem`));
}

const imported = new Map<string, Promise<PrivateKey>>();

/** A fixture private key imported into the WebCrypto backend (cached per process). */
export function fixtureKey(name: string): Promise<PrivateKey> {
  let key = imported.get(name);
  if (key === undefined) {
    key = webCrypto.importPrivate(fixturePem(name));
    imported.set(name, key);
  }
  return key;
}

/** Parsed `tests/vectors/socp-1.3-vectors.json`: the project's interop vectors (pyca-made). */
// deno-lint-ignore no-explicit-any
export function sharedVectors(): any {
  return JSON.parse(Deno.readTextFileSync(repoPath("tests/vectors/socp-1.3-vectors.json")));
}

/** Parsed `tests/vectors/python_vectors.json` (made by `tests/vectors/make_vectors.py`). */
// deno-lint-ignore no-explicit-any
export function pythonVectors(): any {
  return JSON.parse(Deno.readTextFileSync(repoPath("tests/vectors/python_vectors.json")));
}

/**
 * The checked current OpenSSL in the user's cache (`deno task test` fetches or builds it first),
 * or, printed once, why it is not there: tests that need it are then ignored, saying so.
 */
export function fastLibCrypto(): { dir: string; path?: string } {
  const dir = libCryptoCacheDir();
  const cached = readCached(dir);
  if (typeof cached !== "string") return { dir, path: join(dir, LIBRARY_FILE) };
  if (!warned) {
    warned = true;
    console.error(
      `OpenSSL ${FAST_LIBCRYPTO.version} tests ignored: ${cached}. ` +
        "Run `deno run -A main.ts libcrypto` (deno task test does) to fetch it.",
    );
  }
  return { dir };
}
let warned = false;
