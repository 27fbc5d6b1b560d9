/**
 * A link's outbox: frames are sealed (signed) as soon as they are queued, so several signatures
 * can be computed at once, but they leave in the order they were queued. The outbox is bounded:
 * a peer that does not read is cut off instead of being buffered forever.
 * @module
 */
import { Fifo } from "./fifo.ts";

/** The part of a WebSocket an outbox needs. */
export interface FrameSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

/** Bytes the socket may hold unsent before the peer counts as a slow consumer. */
const SOCKET_BUFFER_BYTES_MAX = 8 * 1024 * 1024;

/** An ordered, bounded queue of sealed frames for one socket. */
export class Outbox {
  #queue = new Fifo<Promise<string | undefined>>();
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly socket: FrameSocket,
    private readonly capacity: number,
    private readonly onOverflow: (reason: string) => void,
  ) {}

  /** Frames queued and not yet sent. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Queues the text a promise will resolve to (undefined: nothing to send). */
  push(text: Promise<string | undefined> | string): boolean {
    if (this.#closed) return false;
    if (
      this.#queue.length >= this.capacity || this.socket.bufferedAmount > SOCKET_BUFFER_BYTES_MAX
    ) {
      this.#closed = true;
      this.onOverflow(`outbox full (${this.#queue.length} frames queued): slow consumer`);
      return false;
    }
    const item = Promise.resolve(text);
    item.catch(() => {});
    this.#queue.push(item);
    this.#draining ??= this.#drain();
    return true;
  }

  /** Stops sending; queued frames are dropped. */
  close(): void {
    this.#closed = true;
    this.#queue.clear();
  }

  /** Resolves when everything queued so far has been handed to the socket. */
  async flushed(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      let text: string | undefined;
      try {
        text = await this.#queue.peek();
      } catch {
        text = undefined;
      }
      this.#queue.shift();
      if (text !== undefined && !this.#closed) {
        try {
          this.socket.send(text);
        } catch {
          this.#closed = true;
        }
      }
    }
    this.#draining = undefined;
  }
}
