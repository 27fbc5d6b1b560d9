/**
 * Leak probe for the OpenSSL backend, run as its own process by `backend_contract_test.ts`
 * (`deno run --allow-ffi --allow-read --v8-flags=--expose-gc`): memory is per process, and
 * `deno test` runs several test modules in one. Prints one JSON line,
 * `{"mallocGrowth":[a,b],"rssGrowth":[c,d]}`: bytes gained over two rounds of 2000 iterations,
 * measured after a full GC. Each iteration does a verify (alternating salt 32 and 478, so the
 * per-key salt memo flips and both attempts run) and an encrypt; every 4th a failing verify (both
 * salts tried), every 10th a public key import that is then dropped (freed by the finalizer),
 * every 40th a failing decrypt. `malloc` bytes in use (glibc `mallinfo2`) are what
 * OpenSSL allocates from; RSS is the coarser cross-check. Test-only.
 * @module
 */

import { constants, sign as nodeSign } from "node:crypto";
import { createOpenSslBackend } from "./openssl.ts";
import { fixturePem } from "./_test_support.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const libc = Deno.dlopen("libc.so.6", {
  // struct mallinfo2 mallinfo2(void): ten size_t fields
  mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
});

/** Bytes in use from malloc: uordblks (arena chunks in use) + hblkhd (mmapped chunks). */
function mallocInUse(): number {
  const info = new BigUint64Array(libc.symbols.mallinfo2().buffer);
  return Number(info[7]! + info[4]!);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 5)); // lets finalizers run
  }
}

const o = createOpenSslBackend();
if (o === undefined) throw new Error("OpenSSL backend unavailable");
const message = new TextEncoder().encode("a message worth signing");
const alice = await o.importPrivate(fixturePem("alice"));
const bob = await o.importPrivate(fixturePem("bob"));
const s32 = await o.sign(alice, message);
const s478 = new Uint8Array(nodeSign("sha256", message, {
  key: fixturePem("alice"),
  padding: constants.RSA_PKCS1_PSS_PADDING,
  saltLength: 478,
}));
const bad = s32.slice();
bad[7]! ^= 1;
const ct = await o.encrypt(alice.publicKey, message);

async function round(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (!(await o!.verify(alice.publicKey, message, i % 2 === 0 ? s32 : s478))) {
      throw new Error("a good signature failed");
    }
    if ((await o!.encrypt(alice.publicKey, message)).length !== 512) throw new Error("encrypt");
    if (i % 4 === 0 && await o!.verify(alice.publicKey, message, bad)) throw new Error("bad sig");
    if (i % 40 === 0 && await o!.decrypt(bob, ct) !== undefined) throw new Error("wrong key");
    // A key imported and dropped: its EVP_PKEY goes when the GC finalizes the handle.
    if (i % 10 === 0 && !(await o!.importPublic(alice.publicKey.spki)).ok) throw new Error("key");
  }
}

await round(1000); // warm-up: allocator arenas, OpenSSL caches, pool threads, the JIT
const mallocGrowth: number[] = [];
const rssGrowth: number[] = [];
for (let r = 0; r < 2; r++) {
  await settle();
  const malloc = mallocInUse();
  const rss = Deno.memoryUsage().rss;
  await round(2000);
  await settle();
  mallocGrowth.push(mallocInUse() - malloc);
  rssGrowth.push(Deno.memoryUsage().rss - rss);
}
console.log(JSON.stringify({ mallocGrowth, rssGrowth }));
