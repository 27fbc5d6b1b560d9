/**
 * The ceiling every benchmark is compared with: the machine's RSA-4096 sign rate on all cores,
 * from `openssl speed -seconds S -multi N rsa4096`, or, without the `openssl` command, the
 * OpenSSL FFI backend's own rate with 4 signs in flight.
 * @module
 */
import { createOpenSslBackend } from "../crypto/openssl.ts";
import { defaultBackend } from "../crypto/mod.ts";

/** The sign rate the benchmarks divide by, and how it was measured. */
export interface Ceiling {
  signs_per_s: number;
  verifies_per_s?: number;
  source: string;
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
): Promise<{ sign: number; verify: number } | undefined> {
  let output;
  try {
    output = await new Deno.Command("openssl", {
      args: ["speed", "-seconds", String(seconds), "-multi", String(multi), "rsa4096"],
      stdout: "piped",
      stderr: "null",
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
  const backend = createOpenSslBackend({ privateOpsInFlightMax: inFlight }) ?? defaultBackend();
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

/** The 2-core (all-core) sign ceiling: `openssl speed`, else the backend's measured rate. */
export async function measureCeiling(
  seconds = 3,
  cores = navigator.hardwareConcurrency,
): Promise<Ceiling> {
  let reason = "";
  const speed = await opensslSpeed(seconds, cores, (r) => reason = r);
  if (speed !== undefined) {
    return {
      signs_per_s: speed.sign,
      verifies_per_s: speed.verify,
      source: `openssl speed -seconds ${seconds} -multi ${cores} rsa4096`,
    };
  }
  return {
    signs_per_s: await backendSignRate(seconds * 1000),
    source: `server backend, 4 signs in flight for ${seconds} s (${reason})`,
  };
}
