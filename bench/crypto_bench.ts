/**
 * Micro-benchmark of the two RSA-4096 backends, after PLATFORM.md §1–§2: ms/op for sign, verify
 * (salt 32 and salt 478), encrypt and decrypt on WebCrypto and OpenSSL; OpenSSL signs/s with 1, 2
 * and 4 in flight (with the worst event-loop lag seen meanwhile); and, if the `openssl` command is
 * on PATH, its own `openssl speed -seconds 2 -multi 2 rsa4096` sign rate as the ceiling.
 *
 * Run: `deno run -A bench/crypto_bench.ts` (about 25 s). Figures on a noisy VM vary by 30 % or so
 * from run to run; take the median of a few runs before comparing.
 * @module
 */

import { constants, sign as nodeSign } from "node:crypto";
import { createOpenSslBackend } from "../crypto/openssl.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import { webCrypto } from "../crypto/webcrypto.ts";
import { parseOpensslSpeed } from "./ceiling.ts";

const KEY_PEM = Deno.readTextFileSync(new URL("../tests/fixtures/keys/alice.pem", import.meta.url));
/** 1 KiB message, 190-byte OAEP plaintext, as in PLATFORM.md. */
const MESSAGE = crypto.getRandomValues(new Uint8Array(1024));
const PLAINTEXT = crypto.getRandomValues(new Uint8Array(190));
const WARMUP_OPS = 3;
const WINDOW_MS = 3000;

/** Mean ms/op over `n` sequential awaited calls, after a few warm-up calls. */
async function msPerOp(n: number, op: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP_OPS; i++) await op();
  const start = performance.now();
  for (let i = 0; i < n; i++) await op();
  return (performance.now() - start) / n;
}

interface Row {
  backend: string;
  sign: number;
  verify32: number;
  verify478: number;
  encrypt: number;
  decrypt: number;
}

async function measure(backend: RsaBackend, key: PrivateKey, scale: number): Promise<Row> {
  const pub = key.publicKey;
  const sig32 = await backend.sign(key, MESSAGE);
  const sig478 = new Uint8Array(nodeSign("sha256", MESSAGE, {
    key: KEY_PEM,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 478,
  }));
  const ct = await backend.encrypt(pub, PLAINTEXT);
  const check = async (ok: Promise<boolean>) => {
    if (!(await ok)) throw new Error(`${backend.name}: verify failed`);
  };
  return {
    backend: backend.name,
    sign: await msPerOp(100 * scale, () => backend.sign(key, MESSAGE)),
    verify32: await msPerOp(1000 * scale, () => check(backend.verify(pub, MESSAGE, sig32))),
    verify478: await msPerOp(1000 * scale, () => check(backend.verify(pub, MESSAGE, sig478))),
    encrypt: await msPerOp(1000 * scale, () => backend.encrypt(pub, PLAINTEXT)),
    decrypt: await msPerOp(100 * scale, () => backend.decrypt(key, ct)),
  };
}

/** Signs/s with `inFlight` sign loops for {@linkcode WINDOW_MS}, and the worst timer lag. */
async function signRate(
  inFlight: number,
): Promise<{ perSecond: number; lagMs: number }> {
  const backend = createOpenSslBackend({ privateOpsInFlightMax: inFlight })!;
  const key = await backend.importPrivate(KEY_PEM);
  for (let i = 0; i < WARMUP_OPS; i++) await backend.sign(key, MESSAGE);
  let lagMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lagMs = Math.max(lagMs, now - last - 10);
    last = now;
  }, 10);
  let count = 0;
  const start = performance.now();
  const deadline = start + WINDOW_MS;
  const loop = async () => {
    while (performance.now() < deadline) {
      await backend.sign(key, MESSAGE);
      count++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = performance.now() - start;
  clearInterval(timer);
  return { perSecond: count / (elapsed / 1000), lagMs };
}

/** `openssl speed -seconds 2 -multi 2 rsa4096`: total signs/s, or why it could not run. */
async function opensslSpeed(): Promise<string> {
  let output;
  try {
    output = await new Deno.Command("openssl", {
      args: ["speed", "-seconds", "2", "-multi", "2", "rsa4096"],
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch (e) {
    return `not run (${e instanceof Error ? e.message : e})`;
  }
  const speed = parseOpensslSpeed(new TextDecoder().decode(output.stdout));
  if (speed === undefined) return "output not understood";
  return `${speed.sign.toFixed(1)} signs/s (verify ${speed.verify.toFixed(0)}/s)`;
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`.padStart(10);

const backends: Array<[RsaBackend, number]> = [[webCrypto, 1]];
let unavailable = "";
const openssl = createOpenSslBackend({ onUnavailable: (reason) => unavailable = reason });
if (openssl !== undefined) backends.push([openssl, 2]);
else console.log(`OpenSSL backend unavailable: ${unavailable}`);

console.log(
  `RSA-4096, 1 KiB message, 190 B OAEP plaintext; mean of sequential awaited ops (Deno ${Deno.version.deno})`,
);
console.log(
  `${"backend".padEnd(10)}${"sign".padStart(10)}${"verify32".padStart(10)}` +
    `${"verify478".padStart(10)}${"encrypt".padStart(10)}${"decrypt".padStart(10)}`,
);
for (const [backend, scale] of backends) {
  const key = await backend.importPrivate(KEY_PEM);
  const r = await measure(backend, key, scale);
  console.log(
    `${r.backend.padEnd(10)}${fmt(r.sign)}${fmt(r.verify32)}${fmt(r.verify478)}` +
      `${fmt(r.encrypt)}${fmt(r.decrypt)}`,
  );
}

if (openssl !== undefined) {
  console.log(`\nOpenSSL signs/s over ${WINDOW_MS / 1000} s windows (worst 10 ms-timer lag):`);
  for (const inFlight of [1, 2, 4]) {
    const { perSecond, lagMs } = await signRate(inFlight);
    console.log(
      `  ${inFlight} in flight: ${perSecond.toFixed(1)} signs/s (lag ${lagMs.toFixed(1)} ms)`,
    );
  }
}

console.log(`\nopenssl speed -seconds 2 -multi 2 rsa4096: ${await opensslSpeed()}`);
