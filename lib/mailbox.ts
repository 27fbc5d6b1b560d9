/**
 * A bounded mailbox with a serial run loop: messages are handled one batch at a time, each
 * batch to completion, never re-entrantly. A full mailbox refuses new messages instead of
 * growing, because unbounded queues are how a slow actor takes a server down.
 * @module
 */

/** Handles a batch of messages; may be async, the next batch waits for it. */
export type BatchHandler<T> = (batch: T[]) => void | Promise<void>;

/** A bounded FIFO drained by one loop. */
export class Mailbox<T> {
  #queue: T[] = [];
  #running = false;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(
    readonly capacity: number,
    private readonly handler: BatchHandler<T>,
    private readonly batchMax = 1000,
    private readonly onError: (error: unknown) => void = (e) => {
      throw e;
    },
  ) {}

  /** Messages waiting. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Enqueues `message`; false if the mailbox is full or closed. */
  post(message: T): boolean {
    if (this.#closed || this.#queue.length >= this.capacity) return false;
    this.#queue.push(message);
    if (!this.#running) {
      this.#running = true;
      queueMicrotask(() => this.#drain());
    }
    return true;
  }

  /** Refuses further messages; queued ones are still handled. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves when the queue is empty and no batch is running. */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.batchMax);
      try {
        await this.handler(batch);
      } catch (e) {
        this.onError(e);
      }
    }
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
