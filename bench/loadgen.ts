/**
 * A cheap load-generating user over `npm:ws` (Deno's built-in WebSocket client stalls ~44 ms per
 * message above 1 KB, PLATFORM.md §4). It sends what our own client sends, minus the client-side
 * RSA work, so that the two cores go to the server under test:
 *
 * - `USER_HELLO` and content frames are unsigned (`"sig": ""`), as `client/session.ts` sends
 *   them; the server accepts that (it verifies a user's `sig` only when present).
 * - A ciphertext is 512 fresh random bytes (base64url): the same size as an RSA-4096 OAEP block,
 *   unique per message (so the server's signature cache never helps), and never decrypted by
 *   the server. `content_sig` is one random 512-byte value per user: servers never check it.
 * - Keys: a few fixture keys shared by many user ids (the server binds each id to a key, any
 *   number of ids may share one), so 5 000 users need no key generation.
 *
 * A received frame is parsed only if a scenario asked for it; each delivery is matched to its
 * send by the first 22 characters (132 random bits) of its ciphertext.
 * @module
 */
import WebSocket from "ws";
import { b64uEncode } from "../protocol/base64url.ts";
import { fixtureSpki } from "./cluster.ts";

/** User keys the load generator shares among its user ids. */
export const USER_KEYS = ["alice", "bob", "carol", "dave", "eve"] as const;

const spkis = new Map<string, string>();
/** The base64url SPKI of user key `i` (cycling through {@linkcode USER_KEYS}). */
export function userSpki(i: number): string {
  const name = USER_KEYS[i % USER_KEYS.length]!;
  let spki = spkis.get(name);
  if (spki === undefined) spkis.set(name, spki = fixtureSpki(name));
  return spki;
}

/** A fresh 512-byte random "ciphertext", base64url. */
export function randomBlock(): string {
  return b64uEncode(crypto.getRandomValues(new Uint8Array(512)));
}

/** The key a delivery is matched by. */
export function tokenOf(ciphertext: string): string {
  return ciphertext.slice(0, 22);
}

/** A received frame, parsed. */
// deno-lint-ignore no-explicit-any
export type Received = { type: string; from: string; to: string; ts: number; payload: any };

/** Options for {@linkcode LoadUser.connect}. */
export interface LoadUserOptions {
  url: string;
  /** Index of the user: picks its shared key. */
  index: number;
  id?: string;
  timeoutMs?: number;
  /** Parse frames and hand them to `onFrame` (else only counted). Default true. */
  parse?: boolean;
}

/** One connected, hello'd user. */
export class LoadUser {
  readonly id: string;
  readonly spki: string;
  readonly contentSig = randomBlock();
  /** Frames received, by anything. */
  received = 0;
  /** Called for each parsed frame. */
  onFrame: (frame: Received) => void = () => {};
  #lastTs = 0;
  #closed = false;

  private constructor(readonly ws: WebSocket, o: LoadUserOptions) {
    this.id = o.id ?? crypto.randomUUID();
    this.spki = userSpki(o.index);
  }

  /** Opens the socket, sends USER_HELLO and waits for the ACK. */
  static connect(o: LoadUserOptions): Promise<LoadUser> {
    const ws = new WebSocket(o.url, { perMessageDeflate: false });
    const user = new LoadUser(ws, o);
    const parse = o.parse ?? true;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`user ${o.index}: no ACK within ${o.timeoutMs ?? 30_000} ms`));
      }, o.timeoutMs ?? 30_000);
      let acked = false;
      ws.on("error", (e: Error) => {
        clearTimeout(timer);
        reject(new Error(`user ${o.index}: ${e.message}`));
      });
      ws.on("close", () => {
        user.#closed = true;
        clearTimeout(timer);
        if (!acked) reject(new Error(`user ${o.index}: closed before ACK`));
      });
      ws.on("open", () => user.#hello());
      ws.on("message", (data: Uint8Array) => {
        user.received++;
        if (acked && !parse) return;
        const frame = JSON.parse(String(data)) as Received;
        if (!acked) {
          if (frame.type === "ERROR") {
            clearTimeout(timer);
            reject(new Error(`user ${o.index}: ${JSON.stringify(frame.payload)}`));
            ws.terminate();
            return;
          }
          if (frame.type === "ACK" && frame.payload?.msg_ref === "USER_HELLO") {
            acked = true;
            clearTimeout(timer);
            resolve(user);
            return;
          }
        }
        user.onFrame(frame);
      });
    });
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** A strictly increasing ms timestamp (as our client keeps). */
  nextTs(): number {
    this.#lastTs = Math.max(Date.now(), this.#lastTs + 1);
    return this.#lastTs;
  }

  /** Sends a frame from this user, unsigned. */
  send(type: string, to: string, payload: Record<string, unknown>): void {
    this.ws.send(
      JSON.stringify({ type, from: this.id, to, ts: this.nextTs(), payload, sig: "" }),
    );
  }

  /** Sends a DM with a fresh random ciphertext; returns its token. */
  dm(to: string): string {
    const ciphertext = randomBlock();
    this.send("MSG_DIRECT", to, {
      ciphertext,
      sender_pub: this.spki,
      content_sig: this.contentSig,
    });
    return tokenOf(ciphertext);
  }

  /** Sends a per-recipient public-channel message (§15 P11); returns its token. */
  publicTo(member: string): string {
    const ciphertext = randomBlock();
    this.send("MSG_PUBLIC_CHANNEL", member, {
      ciphertext,
      sender_pub: this.spki,
      content_sig: this.contentSig,
    });
    return tokenOf(ciphertext);
  }

  #hello(): void {
    this.send("USER_HELLO", "server", { client: "socp-bench", pubkey: this.spki });
  }

  /** Closes without ceremony. */
  terminate(): void {
    this.#closed = true;
    this.ws.terminate();
  }
}

/** Connects `count` users to the servers (user i to `urls[i % urls.length]`), `parallel` at a time. */
export async function connectUsers(
  urls: string[],
  count: number,
  o: { parallel?: number; parse?: boolean; offset?: number; timeoutMs?: number } = {},
): Promise<LoadUser[]> {
  const users: LoadUser[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      users[i] = await LoadUser.connect({
        url: urls[i % urls.length]!,
        index: (o.offset ?? 0) + i,
        parse: o.parse,
        timeoutMs: o.timeoutMs,
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(count, o.parallel ?? 8) }, worker));
  } catch (e) {
    for (const u of users) u?.terminate();
    throw e;
  }
  return users;
}

/** Matches deliveries to sends: latency per token, counted inside a measuring window. */
export class Deliveries {
  readonly #pending = new Map<string, { sent: number; done: () => void }>();
  readonly latencies: number[] = [];
  delivered = 0;
  #window: { from: number; to: number } | undefined;

  /**
   * From now on, deliveries arriving in [from, to] (performance.now() ms) count toward
   * `inWindow`, and messages sent in [from, to] toward `latencies`.
   */
  measure(from: number, to: number): void {
    this.#window = { from, to };
  }

  /** Deliveries that arrived inside the window. */
  inWindow = 0;

  /** Registers a sent message; resolves when it is delivered. */
  expect(token: string): Promise<void> {
    const p = Promise.withResolvers<void>();
    this.#pending.set(token, { sent: performance.now(), done: p.resolve });
    return p.promise;
  }

  /** A frame arrived at a user: if it carries a pending ciphertext, it is delivered. */
  arrived(frame: Received): void {
    const ct = frame.payload?.ciphertext;
    if (typeof ct !== "string") return;
    const token = tokenOf(ct);
    const entry = this.#pending.get(token);
    if (entry === undefined) return;
    this.#pending.delete(token);
    this.delivered++;
    const now = performance.now();
    const w = this.#window;
    if (w !== undefined) {
      if (now >= w.from && now <= w.to) this.inWindow++;
      if (entry.sent >= w.from && entry.sent <= w.to) this.latencies.push(now - entry.sent);
    }
    entry.done();
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Forgets everything still pending (resolving their waiters). */
  abandon(): void {
    for (const entry of this.#pending.values()) entry.done();
    this.#pending.clear();
  }
}
