/**
 * The memory a signing thread shares with the pool (`sign_pool.ts`, `sign_worker.ts`): one
 * `SharedArrayBuffer` holding a ring of {@linkcode SIGN_THREAD_SLOTS} slots, two counters and
 * two waiting flags. The pool writes a job into the next free slot (key id and SHA-256 digest)
 * and then advances `submitted`; the thread signs the slots in order, writes each signature (or
 * why it failed) into its slot and then advances `done`. Each side writes only its own counter
 * and flag, with `Atomics`, and a slot only before advancing its counter, so the other side reads
 * the slot complete; it wakes the other side only when that side's flag says it waits. Both
 * counters count jobs modulo 2^32 (they wrap in `Int32Array`s); a job's slot is its number modulo
 * the ring size, a power of two, so the wrap keeps the order of the slots.
 * @module
 */
import { SIGN_THREAD_SLOTS } from "../protocol/limits.ts";

/** `Int32Array` index of the jobs submitted so far (written by the pool). */
export const SUBMITTED = 0;
/** `Int32Array` index of the jobs finished so far (written by the signing thread). */
export const DONE = 1;
/**
 * `Int32Array` indexes of a flag each side sets (to 1) while it waits for the other's counter:
 * the other side calls `Atomics.notify` only then. A notify costs the caller a lock and a look
 * at the waiters, about 7 % of the pool's main thread at full load when made per job, while a
 * busy signing thread waits for nothing. Each side sets its flag, then looks at the counter
 * again before it waits, so a job or a result is never missed (sequentially consistent atomics).
 */
export const THREAD_WAITING = 2;
export const POOL_WAITING = 3;

/** A slot's outcome: the signature is in the slot. */
export const SIGNED = 1;
/** A slot's outcome: the reason (UTF-8) is in the slot's signature bytes. */
export const FAILED = 2;

const HEADER_BYTES = 16;
const DIGEST_BYTES = 32;
const SIGNATURE_BYTES = 512;
/** Per slot: key id, outcome, reason length, unused (4 × int32); digest; signature. */
const SLOT_INTS = 4;
const SLOT_BYTES = SLOT_INTS * 4 + DIGEST_BYTES + SIGNATURE_BYTES;

if ((SIGN_THREAD_SLOTS & (SIGN_THREAD_SLOTS - 1)) !== 0) {
  throw new Error("SIGN_THREAD_SLOTS must be a power of two");
}

/** Views on one thread's shared ring; either side makes its own over the same buffer. */
export class SignRing {
  /** Slots in the ring. */
  static readonly slots = SIGN_THREAD_SLOTS;
  /** The counters ({@linkcode SUBMITTED}, {@linkcode DONE}) and each slot's int32 fields. */
  readonly ints: Int32Array<SharedArrayBuffer>;
  readonly #digests: Uint8Array<SharedArrayBuffer>[] = [];
  readonly #signatures: Uint8Array<SharedArrayBuffer>[] = [];

  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(
      HEADER_BYTES + SIGN_THREAD_SLOTS * SLOT_BYTES,
    ),
  ) {
    this.ints = new Int32Array(buffer);
    for (let slot = 0; slot < SIGN_THREAD_SLOTS; slot++) {
      const at = HEADER_BYTES + slot * SLOT_BYTES + SLOT_INTS * 4;
      this.#digests.push(new Uint8Array(buffer, at, DIGEST_BYTES));
      this.#signatures.push(new Uint8Array(buffer, at + DIGEST_BYTES, SIGNATURE_BYTES));
    }
  }

  /** The slot of job number `job` (a counter value). */
  static slotOf(job: number): number {
    return job & (SIGN_THREAD_SLOTS - 1);
  }

  /** Pool side: puts a job in `slot`, before `submitted` is advanced past it. */
  put(slot: number, key: number, digest: Uint8Array): void {
    this.ints[this.#int(slot)] = key;
    this.#digests[slot]!.set(digest);
  }

  /** The key id of the job in `slot`. */
  key(slot: number): number {
    return this.ints[this.#int(slot)]!;
  }

  /** The digest of the job in `slot` (a view on shared memory). */
  digest(slot: number): Uint8Array<SharedArrayBuffer> {
    return this.#digests[slot]!;
  }

  /** Thread side: the signature bytes of `slot`, to write the signature into. */
  signature(slot: number): Uint8Array<SharedArrayBuffer> {
    return this.#signatures[slot]!;
  }

  /** Thread side: marks `slot` signed (its signature bytes written). */
  signed(slot: number): void {
    this.ints[this.#int(slot) + 1] = SIGNED;
  }

  /** Thread side: marks `slot` failed, with the start of `reason` in its signature bytes. */
  failed(slot: number, reason: string): void {
    const { written } = new TextEncoder().encodeInto(reason, this.#signatures[slot]!);
    this.ints[this.#int(slot) + 1] = FAILED;
    this.ints[this.#int(slot) + 2] = written;
  }

  /** Pool side: the signature of a finished job (a copy), or the Error it failed with. */
  result(slot: number): Uint8Array<ArrayBuffer> | Error {
    const sig = this.#signatures[slot]!;
    if (this.ints[this.#int(slot) + 1] === SIGNED) return new Uint8Array(sig);
    const length = this.ints[this.#int(slot) + 2]!;
    return new Error(new TextDecoder().decode(sig.slice(0, length)));
  }

  #int(slot: number): number {
    return (HEADER_BYTES + slot * SLOT_BYTES) / 4;
  }
}
