/**
 * Fixtures shared by the crypto tests: the fixture keys and the two vector files. Test-only;
 * nothing outside `*_test.ts` imports it.
 * @module
 */

import { fileURLToPath } from "node:url";
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
