/**
 * The ceiling every benchmark is compared with: the machine's RSA-4096 sign rate on all cores
 * with the fastest libcrypto at hand, from `openssl speed -seconds S -multi N rsa4096` run with
 * `LD_LIBRARY_PATH` at the current OpenSSL the server would load (`crypto/libcrypto_cache.ts`),
 * with the system library's figure beside it; without the `openssl` command, the OpenSSL FFI
 * backend's own rate with 4 signs in flight.
 * @module
 */
import { dirname } from "node:path";
import { createOpenSslBackend } from "../crypto/openssl.ts";
import { chooseLibCrypto, defaultBackend } from "../crypto/mod.ts";

/** The sign rate the benchmarks divide by, and how it was measured. */
export interface Ceiling {
  signs_per_s: number;
  verifies_per_s?: number;
  source: string;
  /** The libcrypto `signs_per_s` was measured with ("system" or its path). */
  library?: string;
  /** The same measurement on the system libcrypto, when `library` is another one. */
  system_signs_per_s?: number;
}

/**
 * Reads `openssl speed ... rsa4096` output, e.g.
 * `rsa 4096 bits 0.002491s 0.000028s    401.5  35458.5` (with `-multi`, the rates are totals).
 */
export function parseOpensslSpeed(text: string): { sign: number; verify: number } | undefined {
  const match = /^rsa\s+4096 bits\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)\s+([\d.]+)/m.exec(text);
  if (match === null) return undefined;
  return { sign: Number(match[3]), verify: Number(match[4]) };
}

/** Runs `openssl speed`; undefined (with the reason in `why`) when it cannot. */
export async function opensslSpeed(
  seconds: number,
  multi: number,
  why: (reason: string) => void = () => {},
  library?: string,
): Promise<{ sign: number; verify: number } | undefined> {
  let output;
  try {
    output = await new Deno.Command("openssl", {
      args: ["speed", "-seconds", String(seconds), "-multi", String(multi), "rsa4096"],
      stdout: "piped",
      stderr: "null",
      ...(library === undefined ? {} : { env: { LD_LIBRARY_PATH: dirname(library) } }),
    }).output();
  } catch (e) {
    why(`openssl not run: ${e instanceof Error ? e.message : e}`);
    return undefined;
  }
  const parsed = parseOpensslSpeed(new TextDecoder().decode(output.stdout));
  if (parsed === undefined) why("openssl speed output not understood");
  return parsed;
}

/** Signs/s of the server's own backend with `inFlight` signs in flight for `ms`. */
export async function backendSignRate(ms: number, inFlight = 4): Promise<number> {
  const backend = createOpenSslBackend({
    privateOpsInFlightMax: inFlight,
    libraryPath: chooseLibCrypto().path,
  }) ?? defaultBackend();
  const key = await backend.importPrivate(
    await Deno.readTextFile(new URL("../tests/fixtures/keys/alice.pem", import.meta.url)),
  );
  const message = crypto.getRandomValues(new Uint8Array(1024));
  await backend.sign(key, message);
  let count = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < deadline) {
        await backend.sign(key, message);
        count++;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

/**
 * The 2-core (all-core) sign ceiling: `openssl speed` on the fastest library (the cached current
 * OpenSSL, else the system's), with the system's figure beside it; else the backend's rate.
 */
export async function measureCeiling(
  seconds = 3,
  cores = navigator.hardwareConcurrency,
): Promise<Ceiling> {
  let reason = "";
  const fast = chooseLibCrypto().path;
  const speed = await opensslSpeed(seconds, cores, (r) => reason = r, fast);
  if (speed !== undefined) {
    const command = `openssl speed -seconds ${seconds} -multi ${cores} rsa4096`;
    const system = fast === undefined ? undefined : await opensslSpeed(seconds, cores);
    return {
      signs_per_s: speed.sign,
      verifies_per_s: speed.verify,
      source: fast === undefined ? command : `LD_LIBRARY_PATH=${dirname(fast)} ${command}`,
      library: fast ?? "system",
      ...(system === undefined ? {} : { system_signs_per_s: system.sign }),
    };
  }
  return {
    signs_per_s: await backendSignRate(seconds * 1000),
    source: `server backend, 4 signs in flight for ${seconds} s (${reason})`,
    library: fast ?? "system",
  };
}
