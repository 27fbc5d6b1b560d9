/**
 * One WebSocket connection to the target, read tolerantly (SOCP-1.3.md §2, §11 "accept"): text or
 * binary messages, trailing whitespace or newlines, several newline-separated objects in one
 * message, non-envelope objects. Every received frame is kept in order, so a check can ask for
 * "the first frame after this mark that matches".
 * @module
 */
import { Buffer } from "node:buffer";
import WebSocket from "ws";

/** A frame as the target sent it: only `type` is guaranteed, everything else is untrusted. */
export interface Frame {
  type: string;
  from?: unknown;
  to?: unknown;
  ts?: unknown;
  /** Always an object (empty when the frame had none, or a non-object). */
  payload: Record<string, unknown>;
  sig?: unknown;
  [extra: string]: unknown;
}

/** Largest message accepted from the target, in bytes. */
const MESSAGE_BYTES_MAX = 1024 * 1024;

/** Splits one received text message into frames; anything unreadable is dropped. */
export function parseFrames(text: string): Frame[] {
  const whole = toFrame(text.trim());
  if (whole !== undefined) return [whole];
  return text.split(/\r?\n/).flatMap((line) => {
    const frame = toFrame(line.trim());
    return frame === undefined ? [] : [frame];
  });
}

function toFrame(text: string): Frame | undefined {
  if (text === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const raw = value as Record<string, unknown>;
  if (typeof raw.type !== "string") return undefined;
  const payload = typeof raw.payload === "object" && raw.payload !== null &&
      !Array.isArray(raw.payload)
    ? raw.payload as Record<string, unknown>
    : {};
  return { ...raw, type: raw.type, payload };
}

interface Waiter {
  from: number;
  match: (f: Frame) => boolean;
  resolve: (f: Frame | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** A connection to the target. */
export class Peer {
  /** Every frame received, in order. */
  readonly received: Frame[] = [];
  /** Set once the socket closed. */
  closed?: { code: number; reason: string };
  #socket: WebSocket;
  #waiters: Waiter[] = [];
  #closedWaiters: (() => void)[] = [];

  private constructor(socket: WebSocket, readonly label: string) {
    this.#socket = socket;
    socket.on("message", (data: WebSocket.RawData) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString();
      for (const frame of parseFrames(text)) this.#push(frame);
    });
    socket.on("close", (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString("utf8") };
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve(undefined);
      }
      for (const wake of this.#closedWaiters.splice(0)) wake();
    });
    socket.on("error", () => {/* reported through "close" */});
  }

  /** Opens a connection; rejects with a readable reason when it cannot. */
  static open(url: string, timeoutMs: number, label: string): Promise<Peer> {
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, { maxPayload: MESSAGE_BYTES_MAX, handshakeTimeout: timeoutMs });
    } catch (e) {
      return Promise.reject(new Error(`cannot connect to ${url}: ${(e as Error).message}`));
    }
    const peer = new Peer(socket, label);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        socket.terminate();
        reject(new Error(`cannot connect to ${url}: ${why}`));
      };
      socket.once("open", () => resolve(peer));
      socket.once("error", (e: Error) => fail(e.message || String(e)));
      socket.once("unexpected-response", (_req, res) => fail(`HTTP ${res.statusCode}`));
    });
  }

  /** Index of the next frame to arrive: pass it to {@linkcode waitFor} to ignore older frames. */
  mark(): number {
    return this.received.length;
  }

  /** True while the socket is open. */
  get isOpen(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  /** Sends a frame (compact JSON, one object per message, §2). Ignored once closed. */
  send(frame: object): void {
    if (this.isOpen) this.#socket.send(JSON.stringify(frame));
  }

  /**
   * The first frame at index `from` or later matching `match`, or `undefined` once `timeoutMs`
   * passed or the socket closed.
   */
  waitFor(match: (f: Frame) => boolean, timeoutMs: number, from = 0): Promise<Frame | undefined> {
    const hit = this.received.slice(from).find(match);
    if (hit !== undefined || this.closed) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        from,
        match,
        resolve,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          resolve(undefined);
        }, Math.max(0, timeoutMs)),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Every frame from index `from` on matching `match`. */
  since(from: number, match: (f: Frame) => boolean = () => true): Frame[] {
    return this.received.slice(from).filter(match);
  }

  /** Resolves once the socket is closed, or after `timeoutMs`; true when it closed. */
  waitClosed(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.closed !== undefined), timeoutMs);
      this.#closedWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Says CTRL_CLOSE and closes normally (§3.10); a socket still open after 1 s is dropped. */
  close(): void {
    if (this.isOpen) {
      this.#socket.send(JSON.stringify({ type: "CTRL_CLOSE" }));
      this.#socket.close(1000, "probe done");
      const timer = setTimeout(() => this.#socket.terminate(), 1000);
      this.#closedWaiters.push(() => clearTimeout(timer));
    } else if (this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.terminate();
    }
  }

  #push(frame: Frame): void {
    const index = this.received.length;
    this.received.push(frame);
    for (const w of [...this.#waiters]) {
      if (index >= w.from && w.match(frame)) {
        clearTimeout(w.timer);
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  }
}
