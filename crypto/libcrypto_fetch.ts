/**
 * Puts the pinned current OpenSSL (`libcrypto_pin.ts`) into the user's cache, once: Debian's
 * binary when this system's glibc can load it, else the same release built from Debian's copy
 * of the upstream tarball with the system compiler (a few minutes on two cores). Every download
 * must hash to its pinned SHA-256, and the library must pass the known-answer checks before
 * `verified.json` is written; until then `libcrypto_cache.ts` keeps choosing the system library.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "../lib/write_file.ts";
import {
  libCryptoCacheDir,
  LIBRARY_FILE,
  readCached,
  sha256File,
  UNAVAILABLE_FILE,
  VERIFIED_FILE,
  type VerifiedRecord,
} from "./libcrypto_cache.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
import { knownAnswerFailure } from "./libcrypto_selfcheck.ts";
import { createOpenSslBackend } from "./openssl.ts";

/** How long one download may take (the source is 53 MB). */
const DOWNLOAD_TIMEOUT_MS = 120_000;

/** The result of {@linkcode fetchFastLibCrypto}. */
export type FetchResult =
  | { ok: true; path: string; record: VerifiedRecord; fresh: boolean }
  | { ok: false; reason: string };

/** Options for {@linkcode fetchFastLibCrypto}. */
export interface FetchOptions {
  cacheDir?: string;
  /** Progress, one line at a time. */
  say?: (line: string) => void;
  /** Build from source when Debian's binary does not load here (default true). */
  build?: boolean;
}

/** Makes sure the cache holds a checked fast libcrypto; never throws. */
export async function fetchFastLibCrypto(options: FetchOptions = {}): Promise<FetchResult> {
  const dir = options.cacheDir ?? libCryptoCacheDir();
  const say = options.say ?? (() => {});
  const cached = readCached(dir);
  if (typeof cached !== "string") {
    return { ok: true, path: join(dir, LIBRARY_FILE), record: cached, fresh: false };
  }
  await Deno.mkdir(dir, { recursive: true });
  const work = await Deno.makeTempDir({ dir, prefix: "work-" });
  try {
    const result = await obtain(work, options.build ?? true, say);
    if (typeof result === "string") {
      await writeFileAtomic(
        join(dir, UNAVAILABLE_FILE),
        JSON.stringify({ reason: result, at: new Date().toISOString() }) + "\n",
      );
      return { ok: false, reason: result };
    }
    return {
      ok: true,
      path: join(dir, LIBRARY_FILE),
      record: await install(dir, result),
      fresh: true,
    };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** A checked library in the work folder, or why there is none. */
async function obtain(
  work: string,
  build: boolean,
  say: (line: string) => void,
): Promise<{ path: string; origin: string } | string> {
  const { version } = FAST_LIBCRYPTO;
  say(`fetching OpenSSL ${version} (Debian's libssl3t64) for faster RSA`);
  const binary = await debianBinary(work);
  if (typeof binary !== "string") return binary;
  if (!build) return binary;
  const why = /version `GLIBC_[\d.]+' not found/.exec(binary)?.[0] ?? binary;
  say(`Debian's build cannot be used here (${why}); building OpenSSL ${version} from source`);
  const built = await buildFromSource(work, say);
  if (typeof built === "string") return `${why}; ${built}`;
  return await check(built.path) ?? built;
}

/** Debian's libcrypto, downloaded, unpacked and checked; or why not. */
async function debianBinary(work: string): Promise<{ path: string; origin: string } | string> {
  const { debianBinary } = FAST_LIBCRYPTO;
  const deb = join(work, "libssl.deb");
  const fetched = await download(debianBinary.url, debianBinary.sha256, deb);
  if (fetched !== undefined) return fetched;
  const unpacked = join(work, "deb");
  const extracted = await run("dpkg-deb", ["-x", deb, unpacked]);
  if (extracted !== undefined) return `cannot unpack the .deb: ${extracted}`;
  const path = join(unpacked, debianBinary.member);
  return await check(path) ?? { path, origin: originOf(debianBinary.url) };
}

/** Loads the library (in this process) and runs the known-answer checks on it. */
async function check(path: string): Promise<string | undefined> {
  let why = "";
  const backend = createOpenSslBackend({ libraryPath: path, onUnavailable: (r) => why = r });
  if (backend === undefined) return why;
  if (!backend.library?.version.startsWith("3.5")) {
    return `it reports OpenSSL ${backend.library?.version}, not ${FAST_LIBCRYPTO.version}`;
  }
  return await knownAnswerFailure(backend);
}

/** Builds libcrypto from the pinned source tarball; the library's path, or why not. */
async function buildFromSource(
  work: string,
  say: (line: string) => void,
): Promise<{ path: string; origin: string } | string> {
  const { source } = FAST_LIBCRYPTO;
  for (const tool of ["cc", "make", "perl"]) {
    if (await run(tool, ["--version"]) !== undefined) return `no ${tool} to build OpenSSL with`;
  }
  const tarball = join(work, "openssl.tar.gz");
  const fetched = await download(source.url, source.sha256, tarball);
  if (fetched !== undefined) return fetched;
  const untar = await run("tar", ["-xzf", tarball, "-C", work]);
  if (untar !== undefined) return `cannot unpack the source: ${untar}`;
  const tree = join(work, source.directory);
  const cores = String(navigator.hardwareConcurrency || 1);
  say(`building libcrypto (./Configure ${source.configure.join(" ")}; make -j${cores})`);
  const started = performance.now();
  const configured = await run("./Configure", [...source.configure], tree);
  if (configured !== undefined) return `Configure failed: ${configured}`;
  for (const target of ["build_generated", LIBRARY_FILE]) {
    const made = await run("make", [`-j${cores}`, target], tree);
    if (made !== undefined) return `make ${target} failed: ${made}`;
  }
  say(`built in ${Math.round((performance.now() - started) / 1000)} s`);
  return { path: join(tree, LIBRARY_FILE), origin: `built from ${originOf(source.url)}` };
}

/** Copies the checked library into the cache and records it. */
async function install(
  dir: string,
  library: { path: string; origin: string },
): Promise<VerifiedRecord> {
  const target = join(dir, LIBRARY_FILE);
  // A new inode, never an overwrite: a running process may have the old file mapped.
  await writeFileAtomic(target, await Deno.readFile(library.path));
  const record: VerifiedRecord = {
    version: FAST_LIBCRYPTO.version,
    sha256: sha256File(target),
    origin: library.origin,
    checked_at: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, VERIFIED_FILE), JSON.stringify(record, null, 2) + "\n");
  await Deno.remove(join(dir, UNAVAILABLE_FILE)).catch(() => {});
  return record;
}

/** Downloads `url` to `path` if it hashes to `sha256`; undefined, or why not. */
async function download(url: string, sha256: string, path: string): Promise<string | undefined> {
  let bytes: Uint8Array;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!response.ok) {
      await response.body?.cancel();
      return `download failed: ${url} answered ${response.status}`;
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    return `download failed: ${url}: ${e instanceof Error ? e.message : e}`;
  }
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== sha256) return `checksum mismatch: ${url} hashes to ${actual}, pinned ${sha256}`;
  await Deno.writeFile(path, bytes);
  return undefined;
}

/** Runs a command; undefined when it succeeded, else the end of its output. */
async function run(command: string, args: string[], cwd?: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
    if (out.success) return undefined;
    const text = new TextDecoder().decode(out.stderr) || new TextDecoder().decode(out.stdout);
    return `${command} exited ${out.code}: ${text.trim().split("\n").slice(-3).join(" / ")}`;
  } catch (e) {
    return `${command}: ${e instanceof Error ? e.message : e}`;
  }
}

/** "Debian openssl_3.5.7.orig.tar.gz" from a pool URL. */
function originOf(url: string): string {
  return `Debian ${decodeURIComponent(url.slice(url.lastIndexOf("/") + 1))}`;
}
