/**
 * A signing thread for `sign_pool.ts`: OpenSSL with blocking calls, taking its jobs from a ring
 * in memory it shares with the pool (`sign_ring.ts`), not from messages. A message costs both
 * threads a wake-up and a (de)serialisation; through the ring a job costs the pool a 32-byte
 * write and this thread nothing while it is busy: after each signature it looks at the ring's
 * `submitted` counter and signs the next slot at once. Only when the ring is empty does it wait
 * (`Atomics.waitAsync`, so that its event loop still takes the pool's messages). It wakes the
 * pool for its signatures a few at a time while it is busy ({@linkcode wakePool}).
 *
 * Messages carry only what is rare: the libcrypto and the ring once, then each private key once
 * (PKCS#8 DER, wiped once imported, never logged). A job may reach the ring before its key's
 * message is taken from the event loop; the job then waits for it, up to `SIGN_KEY_WAIT_MS`.
 * @module
 */
/// <reference lib="deno.worker" />
import { createDigestSigner, createOpenSslBackend, type DigestSigner } from "./openssl.ts";
import { DONE, POOL_WAITING, SignRing, SUBMITTED, THREAD_WAITING } from "./sign_ring.ts";
import type { RsaBackend } from "./types.ts";
import { SIGN_KEY_WAIT_MS, SIGN_WAKE_AFTER, SIGN_WAKE_JOBS_LEFT } from "../protocol/limits.ts";

/** What the pool sends: the libcrypto and the shared ring first, then each key once. */
export type SignRequest =
  | { type: "init"; libraryPath?: string; ring: SharedArrayBuffer }
  | { type: "key"; key: number; der: Uint8Array };
/** What a worker answers to `init`, its only answer. */
export type SignReply =
  | { type: "ready" }
  | { type: "unavailable"; reason: string };

/** The same libcrypto as the pool's backend, loaded when the pool says which. */
let backend: RsaBackend | undefined;
/** Each key's signer, or why the key could not be used. */
const signers = new Map<number, DigestSigner | string>();

self.onmessage = (e: MessageEvent<SignRequest>) => {
  const request = e.data;
  if (request.type === "init") {
    let why = "";
    backend = createOpenSslBackend({
      libraryPath: request.libraryPath,
      blocking: true,
      privateOpsInFlightMax: 1,
      onUnavailable: (reason) => (why = reason),
    });
    self.postMessage(
      (backend === undefined
        ? { type: "unavailable", reason: why }
        : { type: "ready" }) satisfies SignReply,
    );
    // Not awaited: should it ever fail, the failure is uncaught, the pool's `onerror` sees it
    // and the pool signs without this thread.
    if (backend !== undefined) serve(new SignRing(request.ring));
    return;
  }
  if (backend !== undefined && request.type === "key") addKey(backend, request.key, request.der);
};

async function addKey(backend: RsaBackend, id: number, der: Uint8Array): Promise<void> {
  try {
    signers.set(id, createDigestSigner(await backend.importPrivate(der)));
  } catch (err) {
    signers.set(id, String(err));
  } finally {
    der.fill(0);
  }
}

/** Signs the ring's jobs in order, forever; waits only when the ring is empty. */
async function serve(ring: SignRing): Promise<void> {
  const { ints } = ring;
  // FFI takes ArrayBuffer-backed memory: the digest and signature pass through these.
  const digest = new Uint8Array(ring.digest(0).length);
  const signature = new Uint8Array(ring.signature(0).length);
  for (let job = 0, unseen = 0;;) {
    if (Atomics.load(ints, SUBMITTED) === job) {
      Atomics.store(ints, THREAD_WAITING, 1);
      if (Atomics.load(ints, SUBMITTED) === job) {
        const wait = Atomics.waitAsync(ints, SUBMITTED, job);
        if (wait.async) await wait.value;
      }
      Atomics.store(ints, THREAD_WAITING, 0);
      continue;
    }
    const slot = SignRing.slotOf(job);
    const id = ring.key(slot);
    const signer = signers.get(id) ?? await keyArriving(id);
    if (typeof signer === "string") ring.failed(slot, signer);
    else {
      try {
        digest.set(ring.digest(slot));
        signer.sign(digest, signature);
        ring.signature(slot).set(signature);
        ring.signed(slot);
      } catch (err) {
        ring.failed(slot, String(err));
      }
    }
    job = (job + 1) | 0;
    Atomics.store(ints, DONE, job);
    unseen = wakePool(ints, job, unseen + 1);
  }
}

/**
 * After the thread's signature number `job`, the `unseen` ones the pool has not looked at:
 * wakes a waiting pool when few jobs are left ({@linkcode SIGN_WAKE_JOBS_LEFT}) or many are
 * unseen ({@linkcode SIGN_WAKE_AFTER}); returns how many stay unseen. A pool that is not waiting
 * looks at `done` again before it waits (see `sign_ring.ts`), so it sees them all.
 */
function wakePool(ints: Int32Array, job: number, unseen: number): number {
  if (Atomics.load(ints, POOL_WAITING) === 0) return 0;
  const left = (Atomics.load(ints, SUBMITTED) - job) | 0;
  if (left > SIGN_WAKE_JOBS_LEFT && unseen < SIGN_WAKE_AFTER) return unseen;
  Atomics.notify(ints, DONE);
  return 0;
}

/**
 * The signer of key `id`, once its message (posted before the job) is taken from the event
 * loop, which runs only while this thread yields; or why not, after `SIGN_KEY_WAIT_MS`.
 */
async function keyArriving(id: number): Promise<DigestSigner | string> {
  const deadline = performance.now() + SIGN_KEY_WAIT_MS;
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const signer = signers.get(id);
    if (signer !== undefined) return signer;
  }
  return `no key ${id} in this signing thread`;
}
