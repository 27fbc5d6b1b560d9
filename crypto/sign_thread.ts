/**
 * The pool's side of one signing thread (`sign_worker.ts`): the worker, the ring they share
 * (`sign_ring.ts`), which job sits in which slot, and the jobs waiting for a free slot. A job
 * costs this thread a 32-byte write, and an `Atomics.notify` only when the worker waits for
 * one; finished jobs are collected by one `Atomics.waitAsync` loop, which runs only while the ring
 * holds jobs and takes every signature finished when it wakes. A busy worker wakes it for a few
 * signatures at a time (`sign_worker.ts`). This thread never blocks: it never calls `Atomics.wait`.
 * @module
 */
import { Fifo } from "../lib/fifo.ts";
import { DONE, POOL_WAITING, SignRing, SUBMITTED, THREAD_WAITING } from "./sign_ring.ts";
import type { SignReply, SignRequest } from "./sign_worker.ts";

/** One signature for a signing thread to make. */
export interface ThreadJob {
  /** The key's id in the signing threads (its message went first). */
  readonly keyId: number;
  /** SHA-256 of the message to sign. */
  readonly digest: Uint8Array;
  resolve(signature: Uint8Array<ArrayBuffer>): void;
  reject(err: Error): void;
}

/** One worker and the jobs given to it; `J` carries whatever the pool keeps with a job. */
export class SigningThread<J extends ThreadJob> {
  /** Resolves to `undefined` once the worker can sign, or to why it cannot. */
  readonly ready: Promise<string | undefined>;
  /** Told why when the worker fails after it was ready (the pool then stops this thread). */
  onFailure: (reason: string) => void = () => {};
  readonly #worker: Worker;
  readonly #ring = new SignRing();
  /** The job in each slot of the ring. */
  readonly #inRing: (J | undefined)[] = new Array(SignRing.slots);
  /** Jobs beyond the ring's slots (callers bound them: `PooledBackend.jobsMax`). */
  readonly #waiting = new Fifo<J>();
  /** Jobs put in the ring, and taken out, so far (modulo 2^32, as the ring counts). */
  #submitted = 0;
  #collected = 0;
  #collecting = false;
  #stopped = false;
  #wakeups = 0;

  constructor(libraryPath: string | undefined, workerUrl: URL) {
    this.#worker = new Worker(workerUrl, { type: "module" });
    const init: SignRequest = { type: "init", libraryPath, ring: this.#ring.buffer };
    this.#worker.postMessage(init);
    this.ready = new Promise((resolve) => {
      let started = false;
      this.#worker.onmessage = (e: MessageEvent<SignReply>) => {
        started = e.data.type === "ready";
        resolve(e.data.type === "ready" ? undefined : e.data.reason);
      };
      this.#worker.onerror = (e) => {
        e.preventDefault();
        if (this.#stopped) return;
        if (started) this.onFailure(e.message);
        else resolve(`signing thread did not start: ${e.message}`);
      };
    });
  }

  /** Jobs given and not finished: in the ring and waiting for it. */
  get outstanding(): number {
    return this.#inRingCount() + this.#waiting.length;
  }

  /** Times the worker has woken this thread for finished signatures. */
  get wakeups(): number {
    return this.#wakeups;
  }

  /** Sends a private key (PKCS#8 DER, copied into the message) for jobs with id `keyId`. */
  addKey(keyId: number, der: Uint8Array): void {
    this.#worker.postMessage({ type: "key", key: keyId, der } satisfies SignRequest);
  }

  /** Gives the thread a job; settled when it is signed or failed, or returned by `stop`. */
  submit(job: J): void {
    if (this.#stopped) return job.reject(new Error("signing thread stopped"));
    if (this.#inRingCount() < SignRing.slots) this.#put(job);
    else this.#waiting.push(job);
    if (!this.#collecting) this.#collect();
  }

  /**
   * Stops the worker. Settles the jobs it finished; returns those it did not (the ring's in
   * order, then the waiting ones) for the caller to fail or sign elsewhere.
   */
  stop(): J[] {
    if (this.#stopped) return [];
    this.#stopped = true;
    this.#worker.terminate();
    this.#take(Atomics.load(this.#ring.ints, DONE));
    const left: J[] = [];
    for (; this.#collected !== this.#submitted; this.#collected = (this.#collected + 1) | 0) {
      const slot = SignRing.slotOf(this.#collected);
      left.push(this.#inRing[slot]!);
      this.#inRing[slot] = undefined;
    }
    for (let job; (job = this.#waiting.shift()) !== undefined;) left.push(job);
    // Wakes this thread's own wait in #collect, which then sees the stop.
    Atomics.notify(this.#ring.ints, DONE);
    return left;
  }

  #inRingCount(): number {
    return (this.#submitted - this.#collected) | 0;
  }

  #put(job: J): void {
    const slot = SignRing.slotOf(this.#submitted);
    this.#ring.put(slot, job.keyId, job.digest);
    this.#inRing[slot] = job;
    this.#submitted = (this.#submitted + 1) | 0;
    const { ints } = this.#ring;
    Atomics.store(ints, SUBMITTED, this.#submitted);
    if (Atomics.load(ints, THREAD_WAITING) === 1) Atomics.notify(ints, SUBMITTED);
  }

  /** Waits for and settles finished jobs while the ring holds any. */
  async #collect(): Promise<void> {
    this.#collecting = true;
    try {
      while (!this.#stopped && this.#inRingCount() > 0) {
        const { ints } = this.#ring;
        const done = Atomics.load(ints, DONE);
        if (done !== this.#collected) {
          this.#take(done);
          continue;
        }
        Atomics.store(ints, POOL_WAITING, 1);
        if (Atomics.load(ints, DONE) === done) {
          const wait = Atomics.waitAsync(ints, DONE, done);
          if (wait.async && await wait.value === "ok") this.#wakeups++;
        }
        Atomics.store(ints, POOL_WAITING, 0);
      }
    } finally {
      this.#collecting = false;
    }
  }

  /** Settles the jobs finished before job number `done`, then refills the ring from the queue. */
  #take(done: number): void {
    while (this.#collected !== done) {
      const slot = SignRing.slotOf(this.#collected);
      const job = this.#inRing[slot]!;
      const result = this.#ring.result(slot);
      this.#inRing[slot] = undefined;
      this.#collected = (this.#collected + 1) | 0;
      if (result instanceof Error) job.reject(result);
      else job.resolve(result);
    }
    while (!this.#stopped && this.#waiting.length > 0 && this.#inRingCount() < SignRing.slots) {
      this.#put(this.#waiting.shift()!);
    }
  }
}
