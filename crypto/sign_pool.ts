/**
 * RSA signing on dedicated threads: one worker per core, each running OpenSSL with blocking
 * calls (`sign_worker.ts`). Nonblocking FFI calls leave a core idle between one signature's end
 * and the next one's start (the result goes back through the main thread, which then starts
 * the next call on Deno's thread pool); a worker that already holds its next request in its
 * queue starts it at once. Everything else stays with the backend it wraps.
 *
 * Requests go to the worker with the fewest outstanding, so each keeps work waiting behind the
 * one it signs when enough work is offered. Requests travel in batches of up to half of what a
 * worker holds, answered one message per batch (`sign_worker.ts`): every message costs both
 * threads a wake-up, and at full load a pair of signatures now costs two messages, not four. A
 * worker that fails makes the pool fall back to the wrapped backend's own signing, with a log
 * line: a signature is never lost.
 * @module
 */
import type { PrivateKey, RsaBackend } from "./types.ts";
import type { SignJob, SignReply, SignRequest } from "./sign_worker.ts";
import { SIGN_THREAD_JOBS_MAX } from "../protocol/limits.ts";

/** Signatures per message to a thread: half of what it holds, so two batches alternate. */
const BATCH_JOBS_MAX = Math.max(1, SIGN_THREAD_JOBS_MAX / 2);

interface Thread {
  worker: Worker;
  outstanding: Map<
    number,
    { resolve: (sig: Uint8Array<ArrayBuffer>) => void; reject: (e: unknown) => void }
  >;
  /** Requests made in this turn, posted together at its end (one message, one wake-up). */
  batch: SignJob[];
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
 * cannot sign here.
 */
export async function createSignPool(
  base: RsaBackend,
  threads: number,
  onUnavailable: (reason: string) => void = () => {},
): Promise<PooledBackend | undefined> {
  const started = Array.from({ length: threads }, () => startThread(base.library?.path));
  const results = await Promise.all(started.map((s) => s.ready));
  const failure = results.find((r) => r !== undefined);
  if (failure !== undefined) {
    for (const s of started) s.thread.worker.terminate();
    onUnavailable(failure);
    return undefined;
  }
  const pool = started.map((s) => s.thread);
  let broken = false;
  for (const thread of pool) {
    thread.worker.onerror = (e) => {
      e.preventDefault();
      broken = true;
      onUnavailable(`signing thread failed: ${e.message}`);
      for (const { reject } of thread.outstanding.values()) reject(new Error(e.message));
      thread.outstanding.clear();
    };
  }
  const keyIds = new WeakMap<PrivateKey, Promise<number>>();
  let nextKey = 1;
  let nextJob = 1;

  /** Sends a key to every worker once (its PKCS#8 DER, exported by the base backend). */
  const keyId = (key: PrivateKey): Promise<number> => {
    let id = keyIds.get(key);
    if (id === undefined) {
      const n = nextKey++;
      id = base.exportPrivate(key).then((der) => {
        for (const t of pool) {
          t.worker.postMessage({ type: "key", key: n, der } satisfies SignRequest);
        }
        return n;
      });
      keyIds.set(key, id);
    }
    return id;
  };

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
      // A copy, made now: the caller may change its buffer while the worker signs.
      const copy = new Uint8Array(data);
      const id = await keyId(key);
      if (broken) return await base.sign(key, copy);
      const thread = pool.reduce((a, b) => (b.outstanding.size < a.outstanding.size ? b : a));
      const job = nextJob++;
      return await new Promise<Uint8Array<ArrayBuffer>>((resolve, reject) => {
        thread.outstanding.set(job, { resolve, reject });
        enqueue(thread, { job, key: id, data: copy });
      });
    },
    close() {
      broken = true;
      for (const thread of pool) {
        thread.worker.terminate();
        for (const { reject } of thread.outstanding.values()) {
          reject(new Error("signing pool closed"));
        }
        thread.outstanding.clear();
      }
    },
  };
}

/**
 * Queues a job for `thread`. A thread with nothing to sign gets it at the end of this task; a
 * busy one at the next turn of the event loop, so that every request made meanwhile (one
 * answer frees several seals) goes in the same message.
 */
function enqueue(thread: Thread, job: SignJob): void {
  if (thread.batch.push(job) > 1) return;
  const posted = thread.outstanding.size - thread.batch.length;
  const flush = () => {
    // At most half of what a thread holds per message: one batch signed while the next waits.
    for (let jobs; (jobs = thread.batch.splice(0, BATCH_JOBS_MAX)).length > 0;) {
      const request: SignRequest = { type: "sign", jobs };
      thread.worker.postMessage(request, jobs.map((j) => j.data.buffer));
    }
  };
  if (posted > 0) setTimeout(flush, 0);
  else queueMicrotask(flush);
}

function startThread(
  libraryPath: string | undefined,
): { thread: Thread; ready: Promise<string | undefined> } {
  const worker = new Worker(new URL("./sign_worker.ts", import.meta.url), { type: "module" });
  worker.postMessage({ type: "init", libraryPath } satisfies SignRequest);
  const thread: Thread = { worker, outstanding: new Map(), batch: [] };
  const ready = new Promise<string | undefined>((resolve) => {
    worker.onmessage = (e: MessageEvent<SignReply>) => {
      const reply = e.data;
      if (reply.type === "ready") return resolve(undefined);
      if (reply.type === "unavailable") return resolve(reply.reason);
      for (const result of reply.results) {
        const pending = thread.outstanding.get(result.job);
        if (pending === undefined) continue;
        thread.outstanding.delete(result.job);
        if ("sig" in result) pending.resolve(result.sig);
        else pending.reject(new Error(result.error));
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      resolve(`signing thread did not start: ${e.message}`);
    };
  });
  return { thread, ready };
}
