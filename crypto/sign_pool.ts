/**
 * RSA signing on dedicated threads: one worker per core, each running OpenSSL with blocking
 * calls (`sign_worker.ts`). Nonblocking FFI calls leave a core idle between one signature's end
 * and the next one's start (the result goes back through the main thread, which then starts
 * the next call on Deno's thread pool); a worker that already holds its next job starts it at
 * once. Everything else stays with the backend it wraps.
 *
 * Jobs travel through shared memory, not messages (`sign_ring.ts`, `sign_thread.ts`): this
 * thread hashes the message (SHA-256, a few microseconds) and writes the 32-byte digest into a
 * slot of the worker's ring; the worker signs the digest and writes the signature back. At full
 * load, posting a batch per message and reading the answers (structured clone both ways, a
 * wake-up per message) took about a fifth of this thread, which on a server bound by two cores
 * is taken from signing; the ring costs a slot write (and a notify if the worker is idle) and
 * one wake-up for all the signatures finished meanwhile. This thread never blocks on the ring.
 *
 * Jobs go to the thread with the fewest outstanding, so each keeps work waiting behind the one
 * it signs when enough work is offered. A worker that fails makes the pool fall back to the
 * wrapped backend's own signing, with a log line; what that worker had not signed is signed by
 * the wrapped backend too: a signature is never lost.
 * @module
 */
import type { PrivateKey, RsaBackend } from "./types.ts";
import { sha256 } from "./hash.ts";
import { SigningThread, type ThreadJob } from "./sign_thread.ts";
import { SIGN_THREAD_JOBS_MAX } from "../protocol/limits.ts";

/** A job as the pool keeps it: what the wrapped backend needs should the thread fail. */
interface PoolJob extends ThreadJob {
  readonly key: PrivateKey;
  /** The pool's own copy of the message. */
  readonly data: Uint8Array<ArrayBuffer>;
}

/** A backend whose `sign` runs on worker threads. */
export interface PooledBackend extends RsaBackend {
  /** Signatures worth having in flight at once: `SIGN_THREAD_JOBS_MAX` per thread. */
  readonly jobsMax: number;
  /** Stops the workers (pending signatures fail). */
  close(): void;
}

/**
 * Starts `threads` signing workers in front of `base` (an OpenSSL backend); resolves to `base`'s
 * behaviour with pooled signing, or undefined (with `onUnavailable` told why) when the workers
 * cannot sign here. `workerUrl` is the worker's module (another only in tests).
 */
export async function createSignPool(
  base: RsaBackend,
  threads: number,
  onUnavailable: (reason: string) => void = () => {},
  workerUrl: URL = new URL("./sign_worker.ts", import.meta.url),
): Promise<PooledBackend | undefined> {
  const pool = Array.from(
    { length: threads },
    () => new SigningThread<PoolJob>(base.library?.path, workerUrl),
  );
  const failure = (await Promise.all(pool.map((t) => t.ready))).find((r) => r !== undefined);
  if (failure !== undefined) {
    for (const thread of pool) thread.stop();
    onUnavailable(failure);
    return undefined;
  }
  let broken = false;
  for (const thread of pool) {
    thread.onFailure = (reason) => {
      broken = true;
      onUnavailable(`signing thread failed: ${reason}`);
      for (const job of thread.stop()) base.sign(job.key, job.data).then(job.resolve, job.reject);
    };
  }
  const keyId = keyIds(base, pool);

  return {
    name: `${base.name}, signing on ${threads} threads`,
    jobsMax: threads * SIGN_THREAD_JOBS_MAX,
    library: base.library,
    generate: () => base.generate(),
    importPrivate: (data) => base.importPrivate(data),
    exportPrivate: (key) => base.exportPrivate(key),
    importPublic: (text) => base.importPublic(text),
    verify: (key, data, signature) => base.verify(key, data, signature),
    encrypt: (key, plaintext) => base.encrypt(key, plaintext),
    decrypt: (key, ciphertext) => base.decrypt(key, ciphertext),
    async sign(key, data) {
      if (broken) return await base.sign(key, data);
      if (!(data instanceof Uint8Array)) throw new TypeError("sign: data must be a Uint8Array");
      // A copy, made now: the caller may change its buffer at once, and the wrapped backend
      // signs the message itself should the thread fail.
      const copy = new Uint8Array(data);
      const digest = sha256(copy);
      const id = await keyId(key);
      if (broken) return await base.sign(key, copy);
      const thread = pool.reduce((a, b) => (b.outstanding < a.outstanding ? b : a));
      return await new Promise<Uint8Array<ArrayBuffer>>((resolve, reject) => {
        thread.submit({ keyId: id, digest, key, data: copy, resolve, reject });
      });
    },
    close() {
      broken = true;
      for (const thread of pool) {
        for (const job of thread.stop()) job.reject(new Error("signing pool closed"));
      }
    },
  };
}

/**
 * Numbers each key and sends it to every thread once (its PKCS#8 DER, exported by `base`),
 * before any job with it.
 */
function keyIds(
  base: RsaBackend,
  pool: readonly SigningThread<PoolJob>[],
): (key: PrivateKey) => Promise<number> {
  const ids = new WeakMap<PrivateKey, Promise<number>>();
  let nextKey = 1;
  return (key) => {
    let id = ids.get(key);
    if (id === undefined) {
      const n = nextKey++;
      id = base.exportPrivate(key).then((der) => {
        for (const thread of pool) thread.addKey(n, der);
        der.fill(0);
        return n;
      });
      ids.set(key, id);
    }
    return id;
  };
}
