/**
 * A counting semaphore that bounds how many async operations run at once. RSA private-key
 * operations run off the main thread in Deno's WebCrypto, but an unbounded number in flight only
 * grows queues and latency (PLATFORM.md §2: 2–4 in flight saturate two cores).
 * @module
 */

/** Runs async work with at most `max` tasks in flight; later callers wait in FIFO order. */
export class Semaphore {
  readonly #max: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  /** @param max tasks allowed in flight at once (at least 1). */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Semaphore size ${max} is not >= 1`);
    }
    this.#max = max;
  }

  /** Tasks running now. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free; the slot is released however `task` ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#max) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // Hand the slot straight to the next waiter, so #active never dips and lets a newcomer
      // jump the queue.
      if (next !== undefined) next();
      else this.#active--;
    }
  }
}
