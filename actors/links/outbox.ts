/**
 * A link's outbox: frames are sealed (signed) as soon as they are queued, so several signatures
 * can be computed at once, but they leave in the order they were queued. The outbox is bounded:
 * a peer that does not read is cut off instead of being buffered forever.
 *
 * Frames are handed to the socket only while it holds less than OUTBOX_SOCKET_HIGH_WATER_BYTES
 * unsent: a burst (a hello on a big server gets one USER_ADVERTISE per known user) then waits
 * here, in order, for a reader that is merely slower than loopback, instead of filling the
 * socket's buffer and getting the reader cut off. What waits (socket and outbox together) is
 * bounded by OUTBOX_BYTES_MAX, and by the outbox's frame count.
 * @module
 */
import { OUTBOX_BYTES_MAX, OUTBOX_SOCKET_HIGH_WATER_BYTES } from "../../protocol/limits.ts";
import { Fifo } from "../../lib/fifo.ts";

/** The part of a WebSocket an outbox needs. */
export interface FrameSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
  /** Sends a WebSocket ping, where the socket exposes pings (npm:ws); the pong is traffic too. */
  ping?(): void;
  /**
   * True when the runtime checks the peer is alive out of our sight: Deno's server sockets
   * answer pings themselves, show no ping or pong to us, and close the socket when a quiet peer
   * does not answer the ping they send it (`idleTimeout`, SOCKET_IDLE_TIMEOUT_S).
   */
  readonly livenessByRuntime?: boolean;
}

/** Milliseconds between looks at a full socket buffer (WebSocket has no drain event). */
const DRAIN_POLL_MS = 5;

/** An ordered, bounded queue of sealed frames for one socket. */
export class Outbox {
  #queue = new Fifo<Promise<string | undefined>>();
  /** Characters of sealed frames that wait here (≈ bytes: frames are JSON, mostly ASCII). */
  #held = 0;
  #draining: Promise<void> | undefined;
  #closed = false;

  /**
   * @param sleep waits `ms` (the injected clock)
   */
  constructor(
    private readonly socket: FrameSocket,
    private readonly capacity: number,
    private readonly onOverflow: (reason: string) => void,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  /** Frames queued and not yet sent. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Queues the text a promise will resolve to (undefined: nothing to send). */
  push(text: Promise<string | undefined> | string): boolean {
    if (this.#closed) return false;
    if (this.#queue.length >= this.capacity) {
      return this.#overflow(`outbox full (${this.#queue.length} frames queued): slow consumer`);
    }
    const item = Promise.resolve(text).then((t) => {
      if (t !== undefined && !this.#closed) this.#held += t.length;
      return t;
    });
    item.catch(() => {});
    this.#queue.push(item);
    this.#draining ??= this.#drain();
    return true;
  }

  /** Stops sending; queued frames are dropped. */
  close(): void {
    this.#closed = true;
    this.#queue.clear();
    this.#held = 0;
  }

  /** Resolves when everything queued so far has been handed to the socket. */
  async flushed(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  /**
   * Resolves when everything queued so far has left the socket's buffer for the network, or
   * after about `maxMs`. Deno's server WebSocket, once closing, drops the connection with its
   * unsent frames at the peer's next data frame (ext/websocket `_eventLoop`), so a link closes
   * its socket only after this.
   */
  async written(maxMs: number): Promise<void> {
    await this.flushed();
    for (
      let waited = 0;
      this.socket.bufferedAmount > 0 && waited < maxMs;
      waited += DRAIN_POLL_MS
    ) {
      await this.sleep(DRAIN_POLL_MS);
    }
  }

  #overflow(reason: string): false {
    this.#closed = true;
    this.onOverflow(reason);
    return false;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      let text: string | undefined;
      try {
        text = await this.#queue.peek();
      } catch {
        text = undefined;
      }
      while (!this.#closed && this.socket.bufferedAmount > OUTBOX_SOCKET_HIGH_WATER_BYTES) {
        const waiting = this.socket.bufferedAmount + this.#held;
        if (waiting > OUTBOX_BYTES_MAX) {
          this.#overflow(`outbox full (${waiting} bytes unsent): slow consumer`);
          break;
        }
        await this.sleep(DRAIN_POLL_MS);
      }
      if (this.#closed) break;
      this.#queue.shift();
      if (text !== undefined) {
        this.#held -= text.length;
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
