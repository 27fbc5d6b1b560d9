/**
 * A link: one actor per WebSocket. It owns the socket, a bounded inbox (frames are handled one
 * at a time, in arrival order, each after the previous one's signature checks) and a bounded
 * outbox. What a frame means depends on the link's role, which its first frame decides:
 * `USER_HELLO` makes a user link, a server hello a server link (§2). Only valid, verified frames
 * reach the Router ("validate at the edge, trust inside"); refused ones get an ERROR and a
 * journal entry with the reason.
 * @module
 */
import type { PublicKey, RsaBackend } from "../../crypto/types.ts";
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import type { Logger } from "../../lib/log.ts";
import { type ErrorCode, type Frame, parseFrame } from "../../protocol/mod.ts";
import {
  LINK_BAD_FRAMES_MAX,
  LINK_CLOSE_LINGER_MS,
  LINK_INBOX_MAX,
} from "../../protocol/limits.ts";
import { ACK_WINDOW_MS, LINK_WAITING_FRAMES_MAX } from "../../protocol/limits.ts";
import type { Store } from "../../store/store.ts";
import { Mailbox } from "../../lib/mailbox.ts";
import { type FrameSocket, Outbox } from "./outbox.ts";
import { AckBatcher } from "./ack_batch.ts";
import type { KeyCache } from "./key_cache.ts";
import { has } from "../router/router_delivery.ts";
import { FEATURE_ACK_BATCHES } from "../../protocol/features.ts";
import type { RouterInput, UnsignedFrame } from "../router/router_messages.ts";
import { errorFrame } from "../router/router_messages.ts";
import type { RouterState } from "../router/router_state.ts";
import type { Limits } from "../../protocol/limits.ts";
import { LinkRateLimiter, RATE_LIMIT_DETAIL } from "../../lib/token_bucket.ts";

/** What every link needs from the server around it. */
export interface LinkContext {
  backend: RsaBackend;
  /**
   * Signs and serialises frames; `onStart` is called when the payload is read for signing
   * (until then, a queued ACK batch may still grow).
   */
  signer: { seal(frame: UnsignedFrame, onStart?: () => void): Promise<string> };
  store: Store;
  clock: Clock;
  random: Random;
  log: Logger;
  /** The Router's state, read-only: pinned keys, our id. */
  state: () => Readonly<RouterState>;
  /** Posts to the Router; false when its mailbox is full. */
  post: (input: RouterInput) => boolean;
  outboxMax: number;
  /**
   * Resolves once no server link is backed up. A user's content waits for it before reaching
   * the Router, so a fast sender is slowed to what the mesh can sign and send.
   */
  uncongested: () => Promise<void>;
  heartbeatIntervalMs: number;
  linkTimeoutMs: number;
  /** Imported server keys by SPKI, shared by all links (bounded by the number of pinned servers). */
  serverKeys: Map<string, Promise<PublicKey | undefined>>;
  /** Imported user keys, bounded (see `key_cache.ts`). */
  userKeys: KeyCache;
  /** Where other servers reach us (for our SERVER_HELLO_LINK). */
  advertise: { host: string; port: number };
  /**
   * Rate limits and frame sizes per link kind. Absent (replay, simulation): no rate
   * limits, and the frame sizes of protocol/limits.ts.
   */
  limits?: Limits;
  /**
   * Waits while the seals charged to `user` back up (see `fair_signer.ts`), so a
   * user who sends faster than the server can sign for it is slowed; undefined: go ahead.
   */
  fairTurn?: (user: string) => Promise<void> | undefined;
  /**
   * Sends an ACK batch that was waiting on link `from`, going down, over the server's current
   * link when that is another one; false when there is none (the peer resends what it keeps
   * when it links again, and a duplicate is acknowledged again).
   */
  ackElsewhere?: (ack: UnsignedFrame, from: string) => boolean;
  /** Told each text message received, before the link looks at it (metrics). */
  onReceive?: (raw: string) => void;
  /**
   * Resolves once the Router has decided and answered every input posted so far (absent:
   * nothing to wait for); a closing link waits for it.
   */
  answered?: () => Promise<void>;
}

/** How a link interprets the frames it receives. */
export interface FrameHandler {
  /**
   * What the link is: "pending" until its first frame says, then "user" or "server". Read by
   * the link (limits, frame size), the server and the status page.
   */
  readonly role: LinkRole;
  /** The user a "user" link speaks for, once its USER_HELLO is accepted. */
  readonly userId?: string | undefined;
  /** Handles one received text message. */
  handle(raw: string, at_ms: number): Promise<void>;
  /** The socket closed. */
  stop?(): void;
}

/** A frame the link refuses, and how it answers. */
export interface Refusal {
  raw: string;
  at_ms: number;
  code: ErrorCode;
  detail: string;
  /** Whom the ERROR is addressed to (default "unknown"). */
  to?: string;
  /** False: journal it but send no ERROR (never answer an ERROR with one). */
  answer?: boolean;
}

/** See {@linkcode FrameHandler.role}. */
export type LinkRole = "pending" | "user" | "server";

/** One WebSocket and what it has proven so far. */
export class Link {
  handler: FrameHandler | undefined;
  #inbox: Mailbox<{ raw: string; at_ms: number }>;
  #outbox: Outbox;
  /** Delivery ACKs to the peer server, coalesced (see `ack_batch.ts`). */
  #acks: AckBatcher;
  #strikes = 0;
  #closing = false;
  /** Set when the link stops handling frames it took: its socket is gone, or its linger is over. */
  #stopped = false;
  #gone = Promise.withResolvers<void>();
  /** Token buckets, one pair per link kind (a link's kind is known after its hello). */
  #limiters: { user?: LinkRateLimiter; server?: LinkRateLimiter } = {};
  /** Frames received and not yet handled, and their length. */
  #waiting = { frames: 0, bytes: 0 };
  /** Time the last traffic arrived: a frame, a ping or a pong (heartbeat timeout). */
  lastReceivedMs: number;

  constructor(
    readonly id: string,
    private readonly socket: FrameSocket,
    readonly ctx: LinkContext,
  ) {
    this.lastReceivedMs = ctx.clock.now();
    this.#acks = new AckBatcher(ctx.clock, ACK_WINDOW_MS, (frame, onStart) => {
      this.#outbox.push(this.ctx.signer.seal(frame, onStart));
    });
    this.#outbox = new Outbox(
      socket,
      ctx.outboxMax,
      // A slow consumer is not waited for: not reading is why it is cut off.
      (reason) => this.close(1008, reason, 0),
      (ms) => new Promise((resolve) => ctx.clock.setTimeout(() => resolve(), ms)),
    );
    this.#inbox = new Mailbox(LINK_INBOX_MAX, async (batch) => {
      for (const item of batch) {
        if (this.#stopped || !this.handler) return;
        // Wait for the link's rate, and (user links) for its signatures to drain.
        await this.#paced(item.raw.length);
        const user = this.handler?.role === "user" ? this.handler.userId : undefined;
        if (user !== undefined) await this.ctx.fairTurn?.(user);
        if (this.#stopped || !this.handler) return;
        await this.handler.handle(item.raw, item.at_ms);
        this.#waiting.frames--;
        this.#waiting.bytes -= item.raw.length;
      }
    });
  }

  /** Any traffic from the peer (a frame, a WebSocket ping or pong) shows the link is alive. */
  alive(): void {
    this.lastReceivedMs = this.ctx.clock.now();
  }

  /** Sends a WebSocket ping where the socket can; any peer's pong then counts as traffic. */
  ping(): void {
    if (!this.#closing) this.socket.ping?.();
  }

  /** True when the runtime, not our clock, decides whether a quiet peer is gone. */
  get livenessByRuntime(): boolean {
    return this.socket.livenessByRuntime === true;
  }

  /** Feeds one received text message. */
  receive(raw: string): void {
    this.ctx.onReceive?.(raw);
    if (this.#closing) return;
    this.alive();
    // A sender that keeps sending while its frames wait is refused, not queued.
    const over = this.#policed(raw.length);
    if (over !== undefined) {
      const to = this.handler?.role === "user" ? this.handler.userId : undefined;
      return this.refuse({
        raw,
        at_ms: this.lastReceivedMs,
        code: "TIMEOUT",
        detail: RATE_LIMIT_DETAIL + over,
        to,
      });
    }
    this.#waiting.frames++;
    this.#waiting.bytes += raw.length;
    if (!this.#inbox.post({ raw, at_ms: this.lastReceivedMs })) {
      this.close(1008, "too many frames waiting: slow down");
    }
  }

  /** Signs and sends a frame built by this server. */
  send(frame: UnsignedFrame): void {
    if (frame.type === "ACK" && has(this.ctx.state().delivery, frame.to, FEATURE_ACK_BATCHES)) {
      return this.#acks.add(frame);
    }
    this.#outbox.push(this.ctx.signer.seal(frame));
  }

  /** Sends a frame that is already signed (forwarded unchanged). */
  relay(text: string): void {
    this.#outbox.push(text);
  }

  /** Frames queued for sending. */
  get outboxDepth(): number {
    return this.#outbox.depth;
  }

  /** Told once the link is gone, whether we closed it or the socket did (set by the supervisor). */
  onDown: (reason: string) => void = () => {};

  /**
   * Takes no more frames, then closes the socket once the frames it had accepted are handled and
   * answered and the answers have left it (waiting `lingerMs` at most), so the peer gets what it
   * was served and reads why it was closed. The link counts as down then, without waiting for
   * the close handshake: a silent peer might never complete it.
   */
  close(code: number, reason: string, lingerMs = LINK_CLOSE_LINGER_MS): void {
    if (this.#closing) return;
    this.#closing = true;
    if (lingerMs === 0) this.#stopped = true;
    this.#inbox.close();
    // While the socket is open, a batch with no other way to its server still leaves here.
    const unsent = this.#acks.takeUnsent();
    if (unsent !== undefined && !this.ctx.ackElsewhere?.(unsent, this.id)) {
      this.#outbox.push(this.ctx.signer.seal(unsent));
    }
    void this.#settle(lingerMs).then(() => {
      this.#stopped = true;
      try {
        this.socket.close(code, reason.slice(0, 120));
      } catch {
        // Already closed by the peer.
      }
      this.onDown(`closed by us (${code} ${reason})`);
      this.#gone.resolve();
    });
  }

  /** Waits, `lingerMs` at most, for the accepted frames to be answered and the answers written. */
  async #settle(lingerMs: number): Promise<void> {
    const { clock } = this.ctx;
    const deadline = clock.now() + lingerMs;
    if (!this.#stopped) {
      let timer: TimerId | undefined;
      await Promise.race([
        this.#inbox.idle().then(() => this.ctx.answered?.()),
        new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, lingerMs))),
      ]);
      if (timer !== undefined) clock.clearTimeout(timer);
    }
    await this.#outbox.written(Math.max(0, deadline - clock.now()));
  }

  /** Resolves once the link is down: its close frame is out, or its socket closed. */
  get gone(): Promise<void> {
    return this.#gone.promise;
  }

  /** The socket closed: stop everything. */
  closed(): void {
    const unsent = this.#acks.takeUnsent();
    if (unsent !== undefined) this.ctx.ackElsewhere?.(unsent, this.id);
    this.#closing = true;
    this.#stopped = true;
    this.#outbox.close();
    this.#inbox.close();
    this.handler?.stop?.();
    this.#gone.resolve();
  }

  /** Posts to the Router; a full Router mailbox closes this link rather than queue without bound. */
  post(input: RouterInput): void {
    if (!this.ctx.post(input)) this.close(1013, "server busy, try again later");
  }

  /** The buckets that apply: a server link's once it is one, a user's before (the tighter). */
  #limiter(): LinkRateLimiter | undefined {
    const limits = this.ctx.limits;
    if (limits === undefined) return undefined;
    const limiters = this.#limiters;
    return this.handler?.role === "server"
      ? limiters.server ??= new LinkRateLimiter("server", {
        framesPerS: limits.server_frames_per_s,
        bytesPerS: limits.server_bytes_per_s,
        burstS: limits.burst_s,
      }, this.ctx.clock)
      : limiters.user ??= new LinkRateLimiter("user", {
        framesPerS: limits.user_frames_per_s,
        bytesPerS: limits.user_bytes_per_s,
        burstS: limits.burst_s,
      }, this.ctx.clock);
  }

  /** Why a frame arriving now is refused: too much already waits (undefined: queue it). */
  #policed(length: number): string | undefined {
    const limiter = this.#limiter();
    if (limiter === undefined) return undefined;
    const { frames, bytes } = this.#waiting;
    // A peer server's greeting (one advertise per user) may be as large as its burst allowance.
    const framesMax = limiter.kind === "server"
      ? Math.max(LINK_WAITING_FRAMES_MAX, limiter.framesBurst)
      : LINK_WAITING_FRAMES_MAX;
    if (frames >= framesMax || (frames > 0 && bytes + length > limiter.bytesBurst)) {
      return limiter.refusal(frames, bytes);
    }
    return undefined;
  }

  /** Waits until the link's buckets can pay for a frame of `length`, then pays. */
  async #paced(length: number): Promise<void> {
    const limiter = this.#limiter();
    if (limiter === undefined) return;
    const { clock } = this.ctx;
    for (let wait = limiter.waitMs(length); wait > 0; wait = limiter.waitMs(length)) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, wait));
      if (this.#stopped) return;
    }
    limiter.take(length);
  }

  /** The configured frame size for this link's kind; `fallback` is the handler's default. */
  #frameBytesMax(fallback: number): number {
    const limits = this.ctx.limits;
    if (limits === undefined) return fallback;
    if (this.handler?.role === "user") return limits.user_frame_bytes_max;
    if (this.handler?.role === "server") return limits.server_frame_bytes_max;
    // The first frame decides the kind, so it may be as large as either kind allows.
    return Math.max(limits.user_frame_bytes_max, limits.server_frame_bytes_max);
  }

  /** Parses untrusted text; a refused frame is answered and journaled, and `undefined` returned. */
  parse(raw: string, at_ms: number, maxBytes: number, to?: string): Frame | undefined {
    const parsed = parseFrame(raw, this.#frameBytesMax(maxBytes));
    if (parsed.ok) return parsed.frame;
    // Never answer an ERROR with an ERROR: two servers could echo each other forever.
    this.refuse({
      raw,
      at_ms,
      code: parsed.code,
      detail: parsed.detail,
      to,
      answer: parsed.type !== "ERROR",
    });
    if (parsed.kind === "too_large") this.close(1009, "frame too large");
    return undefined;
  }

  /** Journals a refused frame, answers with ERROR (never to an ERROR) and counts a strike. */
  refuse({ raw, at_ms, code, detail, to = "unknown", answer = true }: Refusal): void {
    const reason = `${code}: ${detail}`;
    // Through the Router, so the journal keeps this link's frames in the order it handled them.
    if (!this.ctx.post({ type: "Refused", link: this.id, raw, reason, at_ms })) {
      const { store } = this.ctx;
      store.journal({
        at_ms,
        link: this.id,
        kind: "frame",
        raw,
        input: "",
        verdict: "dropped",
        reason,
        event_seq: store.lastSeq,
      });
    }
    if (answer) this.send(errorFrame(this.ctx.state().server_id, to, at_ms, code, detail));
    if (++this.#strikes >= LINK_BAD_FRAMES_MAX) this.close(1008, "too many bad frames");
  }

  /**
   * Answers ERROR and journals a note for a frame handled wholly by the link, outside the
   * Router (password login): replay shows such rows as recorded and does not re-run them.
   */
  note({ raw, at_ms, code, detail, to }: Refusal & { to: string }): void {
    const { store } = this.ctx;
    store.journal({
      at_ms,
      link: this.id,
      kind: "note",
      raw,
      input: "",
      verdict: "dropped",
      reason: `${code}: ${detail}`,
      event_seq: store.lastSeq,
    });
    this.send(errorFrame(this.ctx.state().server_id, to, at_ms, code, detail));
  }
}
