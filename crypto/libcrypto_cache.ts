/**
 * Which libcrypto to sign with, decided at start without any network: an explicit choice
 * (`--libcrypto PATH|system`, or `SOCP_LIBCRYPTO`), else the current OpenSSL in the user's cache
 * when it is there, still hashes to what was recorded, and passed the known-answer checks
 * (`libcrypto_fetch.ts` puts it there), else the system library, with the reason.
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";

/** The environment variable that overrides the choice (a path, or `system`). */
export const LIBCRYPTO_ENV = "SOCP_LIBCRYPTO";
/** The file name of the library inside its cache folder. */
export const LIBRARY_FILE = "libcrypto.so.3";
/** The record written once the library passed the known-answer checks. */
export const VERIFIED_FILE = "verified.json";
/** The record of the last attempt that could not provide the library (why). */
export const UNAVAILABLE_FILE = "unavailable.json";

/** What `verified.json` holds. */
export interface VerifiedRecord {
  version: string;
  /** SHA-256 (hex) of the library file as checked. */
  sha256: string;
  /** Where it came from, e.g. "Debian libssl3t64 3.5.7-1~deb13u3" or "built from ...". */
  origin: string;
  checked_at: string;
}

/** The library to load: `path` undefined means the system's own. */
export interface LibCryptoChoice {
  path?: string;
  /** Where the library comes from, for logs and /status. */
  origin: string;
  /** Why the fast library is not used, when it is not (absent for an explicit choice). */
  fallback?: string;
}

/** The user's cache folder for this pinned version: `$XDG_CACHE_HOME/socp/libcrypto/<v>`. */
export function libCryptoCacheDir(version: string = FAST_LIBCRYPTO.version): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  const base = Deno.env.get("XDG_CACHE_HOME") || join(home, ".cache");
  return join(base, "socp", "libcrypto", version);
}

/** SHA-256 (hex) of a file. */
export function sha256File(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

/**
 * Decides, synchronously and offline. `override` is the `--libcrypto` value; without it the
 * environment variable counts.
 */
export function chooseLibCrypto(
  options: { override?: string; cacheDir?: string } = {},
): LibCryptoChoice {
  const explicit = options.override ?? Deno.env.get(LIBCRYPTO_ENV);
  if (explicit !== undefined && explicit !== "") {
    const via = options.override !== undefined ? "--libcrypto" : LIBCRYPTO_ENV;
    return explicit === "system"
      ? { origin: `system (${via}=system)` }
      : { path: explicit, origin: `${via}` };
  }
  const dir = options.cacheDir ?? libCryptoCacheDir();
  const cached = readCached(dir);
  if (typeof cached === "string") return { origin: "system", fallback: cached };
  return { path: join(dir, LIBRARY_FILE), origin: cached.origin };
}

/** The verified record of the cached library, or why it cannot be used. */
export function readCached(dir: string): VerifiedRecord | string {
  let record: VerifiedRecord;
  try {
    record = JSON.parse(Deno.readTextFileSync(join(dir, VERIFIED_FILE)));
  } catch {
    return `OpenSSL ${FAST_LIBCRYPTO.version} is not in ${dir} (${lastFailure(dir)})`;
  }
  if (record.version !== FAST_LIBCRYPTO.version) {
    return `${dir} holds OpenSSL ${record.version}, not the pinned ${FAST_LIBCRYPTO.version}`;
  }
  let actual: string;
  try {
    actual = sha256File(join(dir, LIBRARY_FILE));
  } catch (e) {
    return `cannot read ${join(dir, LIBRARY_FILE)}: ${e instanceof Error ? e.message : e}`;
  }
  if (actual !== record.sha256) {
    return `checksum mismatch: ${join(dir, LIBRARY_FILE)} hashes to ${actual.slice(0, 16)}…, ` +
      `${record.sha256.slice(0, 16)}… was checked`;
  }
  return record;
}

/** What the last fetch recorded as the reason it failed, or how to fetch. */
export function lastFailure(dir: string): string {
  try {
    const { reason } = JSON.parse(Deno.readTextFileSync(join(dir, UNAVAILABLE_FILE)));
    if (typeof reason === "string") return `last fetch: ${reason}`;
  } catch { /* never tried */ }
  return "fetch it with `deno run -A main.ts libcrypto`";
}
