/**
 * Fair shares of the server's signing capacity. Every frame the server emits is
 * signed, and RSA-4096 signing is the scarce resource: a user flooding DMs would otherwise fill
 * one FIFO signing queue, and every other user's messages would wait behind all of it.
 *
 * Seals are queued per origin (the user a delivery comes from, else the frame's recipient) and
 * started round-robin across origins, a few at a time (the backend's parallelism), so a quiet
 * user's DM waits for at most one signature of each busy origin. An origin's backlog is also
 * what its own link waits on before handling its next frame: a flooder is slowed to its share,
 * its surplus stays in its own inbox, where the rate limits refuse it.
 *
 * A frame whose signature is already known (the same payload sent to many links, such as an
 * advertise replayed to every newcomer) costs no RSA, so it never waits for a turn: on a big
 * server a join sends thousands of those, and queueing them behind real seals stalled it.
 * @module
 */
import { Fifo } from "../../lib/fifo.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

interface Job {
  frame: UnsignedFrame;
  onStart?: () => void;
  resolve: (text: string) => void;
  reject: (e: unknown) => void;
}

/** The signer a FairSigner shares out. */
export interface Sealer {
  /** Signs and serialises a frame. */
  seal(frame: UnsignedFrame): Promise<string>;
  /**
   * The sealed frame when its payload's signature is already known or being computed.
   * @param settled the frame stays as it is until sealed
   */
  cachedSeal?(frame: UnsignedFrame, settled?: boolean): Promise<string> | undefined;
}

/** Round-robin seals across origins, at most `parallel` at once. */
export class FairSigner {
  /** Waiting jobs per origin; Map order is the round-robin order. */
  #queues = new Map<string, Fifo<Job>>();
  /** Seals queued or running, per origin. */
  #backlog = new Map<string, number>();
  #running = 0;
  /** Seals queued or running, by frame object. */
  #waiting = new WeakMap<UnsignedFrame, Promise<string>>();
  #waiters = new Map<string, { limit: number; resolve: () => void }[]>();

  /**
   * @param sealer the real signer
   * @param parallel seals started at once
   */
  constructor(private readonly sealer: Sealer, readonly parallel: number) {}

  /** Who a frame's signature is charged to: the sender of a delivery, else its recipient. */
  static origin(frame: UnsignedFrame): string {
    const sender = (frame.payload as { sender?: unknown }).sender;
    return typeof sender === "string" ? sender : frame.to;
  }

  /** Seals queued or running for `origin`. */
  backlog(origin: string): number {
    return this.#backlog.get(origin) ?? 0;
  }

  /**
   * Seals `frame` in its origin's turn, or at once when its signature is known.
   * @param onStart called when its payload is read for signing: until then it may still change
   */
  sign(frame: UnsignedFrame, onStart?: () => void): Promise<string> {
    // Known, or the same frame object already waiting (one frame sent to many links). A frame
    // with `onStart` may change until then (an ACK batch).
    const known = this.#waiting.get(frame) ?? this.sealer.cachedSeal?.(frame, !onStart);
    if (known) {
      onStart?.();
      return known;
    }
    const origin = FairSigner.origin(frame);
    const sealed = new Promise<string>((resolve, reject) => {
      let queue = this.#queues.get(origin);
      if (!queue) this.#queues.set(origin, queue = new Fifo());
      queue.push({ frame, onStart, resolve, reject });
      this.#backlog.set(origin, this.backlog(origin) + 1);
      this.#pump();
    });
    this.#waiting.set(frame, sealed);
    sealed.catch(() => this.#waiting.delete(frame));
    return sealed;
  }

  /** Resolves once `origin` has fewer than `limit` seals queued or running. */
  whenBelow(origin: string, limit: number): Promise<void> | undefined {
    if (this.backlog(origin) < limit) return undefined;
    return new Promise((resolve) => {
      let list = this.#waiters.get(origin);
      if (!list) this.#waiters.set(origin, list = []);
      list.push({ limit, resolve });
    });
  }

  #pump(): void {
    while (this.#running < this.parallel && this.#queues.size > 0) {
      // The first origin in line gets one seal started, then goes to the back of the line.
      const [origin, queue] = this.#queues.entries().next().value!;
      const job = queue.shift()!;
      this.#queues.delete(origin);
      if (queue.length > 0) this.#queues.set(origin, queue);
      this.#running++;
      job.onStart?.();
      this.sealer.seal(job.frame).then(job.resolve, job.reject).finally(() => {
        this.#running--;
        this.#done(origin);
        this.#pump();
      });
    }
  }

  #done(origin: string): void {
    const left = this.backlog(origin) - 1;
    if (left > 0) this.#backlog.set(origin, left);
    else this.#backlog.delete(origin);
    const waiters = this.#waiters.get(origin);
    if (!waiters) return;
    const still = waiters.filter((w) => (left < w.limit ? (w.resolve(), false) : true));
    if (still.length > 0) this.#waiters.set(origin, still);
    else this.#waiters.delete(origin);
  }
}
