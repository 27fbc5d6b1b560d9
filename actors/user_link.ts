/**
 * One actor per user connection. It owns the socket: frames are parsed, checked and verified
 * here, one at a time in arrival order, and only valid frames reach the Router ("validate at the
 * edge, trust inside"). Refused frames get an ERROR and a journal entry with the reason.
 * @module
 */
import type { PublicKey, RsaBackend } from "../crypto/types.ts";
import { verifyPayload } from "../crypto/signing.ts";
import { type ErrorCode, type Frame, parseFrame } from "../protocol/mod.ts";
import { LINK_BAD_FRAMES_MAX, LINK_INBOX_MAX, USER_FRAME_BYTES_MAX } from "../protocol/limits.ts";
import type { Clock } from "../lib/world.ts";
import type { Store } from "../store/store.ts";
import { Mailbox } from "./mailbox.ts";
import { type FrameSocket, Outbox } from "./outbox.ts";
import type { FrameSigner } from "./frame_signer.ts";
import type { RouterInput, UnsignedFrame } from "./router_messages.ts";
import { errorFrame } from "./router_messages.ts";

/** What a user link needs from the server around it. */
export interface UserLinkContext {
  server_id: () => string;
  backend: RsaBackend;
  signer: FrameSigner;
  store: Store;
  clock: Clock;
  /** Posts to the Router; false when its mailbox is full. */
  post: (input: RouterInput) => boolean;
  outboxMax: number;
}

/** A connected user's socket and what it has proven so far. */
export class UserLink {
  #user?: { id: string; key: PublicKey };
  #inbox: Mailbox<{ raw: string; at_ms: number }>;
  #outbox: Outbox;
  #strikes = 0;
  #closed = false;

  constructor(
    readonly id: string,
    private readonly socket: FrameSocket,
    private readonly ctx: UserLinkContext,
  ) {
    this.#outbox = new Outbox(socket, ctx.outboxMax, (reason) => this.close(1008, reason));
    this.#inbox = new Mailbox(LINK_INBOX_MAX, async (batch) => {
      for (const item of batch) await this.#handle(item.raw, item.at_ms);
    });
  }

  /** The user id this link said hello as (not yet accepted by the Router, maybe). */
  get userId(): string | undefined {
    return this.#user?.id;
  }

  /** Feeds one received text message. */
  receive(raw: string): void {
    if (this.#closed) return;
    if (!this.#inbox.post({ raw, at_ms: this.ctx.clock.now() })) {
      this.close(1008, "too many frames waiting: slow down");
    }
  }

  /** Signs and sends a frame built by the server. */
  send(frame: UnsignedFrame): void {
    this.#outbox.push(this.ctx.signer.seal(frame));
  }

  /** Sends a frame that is already signed (forwarded unchanged). */
  relay(text: string): void {
    this.#outbox.push(text);
  }

  /** Closes the socket after what was queued has been sent. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox.close();
    void this.#outbox.flushed().then(() => {
      try {
        this.socket.close(code, reason.slice(0, 120));
      } catch {
        // Already closed by the peer.
      }
    });
  }

  /** The socket closed: stop sending. */
  closed(): void {
    this.#closed = true;
    this.#outbox.close();
    this.#inbox.close();
  }

  async #handle(raw: string, at_ms: number): Promise<void> {
    if (this.#closed) return;
    const parsed = parseFrame(raw, USER_FRAME_BYTES_MAX);
    if (!parsed.ok) {
      this.#refuse(raw, at_ms, parsed.code, parsed.detail);
      if (parsed.kind === "too_large") this.close(1009, "frame too large");
      return;
    }
    const frame = parsed.frame;
    if (this.#user === undefined) return await this.#onHello(frame, raw, at_ms);
    if (frame.type === "USER_HELLO") {
      return this.#refuse(raw, at_ms, "NAME_IN_USE", "USER_HELLO was already sent on this link");
    }
    if (frame.type === "CTRL_CLOSE") frame.from = this.#user.id;
    if (frame.from !== this.#user.id) {
      return this.#refuse(
        raw,
        at_ms,
        "BAD_KEY",
        `field "from" must be your user id ${this.#user.id}`,
      );
    }
    if (
      frame.sig !== "" &&
      !(await verifyPayload(this.ctx.backend, this.#user.key, frame.payload, frame.sig))
    ) {
      return this.#refuse(
        raw,
        at_ms,
        "INVALID_SIG",
        `signature of ${frame.type} does not verify with your key`,
      );
    }
    if (frame.type === "MSG_DIRECT" && !(await this.#isOwnKey(frame.payload.sender_pub))) {
      return this.#refuse(
        raw,
        at_ms,
        "BAD_KEY",
        'field "payload.sender_pub" is not the key bound to your user id',
      );
    }
    this.#post({ type: "FromUser", link: this.id, frame, raw, at_ms });
  }

  async #onHello(frame: Frame, raw: string, at_ms: number): Promise<void> {
    if (frame.type !== "USER_HELLO") {
      return this.#refuse(
        raw,
        at_ms,
        "UNKNOWN_TYPE",
        `first frame must be USER_HELLO, got ${frame.type}`,
      );
    }
    const imported = await this.ctx.backend.importPublic(frame.payload.pubkey);
    if (!imported.ok) {
      this.#refuse(raw, at_ms, "BAD_KEY", `field "payload.pubkey": ${imported.reason}`);
      return this.close(1008, "BAD_KEY");
    }
    const enc = frame.payload.enc_pubkey;
    if (enc !== undefined && enc !== frame.payload.pubkey) {
      const encImport = await this.ctx.backend.importPublic(enc);
      // One key pair serves both purposes (§5.3); a different encryption key is refused.
      if (!encImport.ok || encImport.key.spki !== imported.key.spki) {
        this.#refuse(
          raw,
          at_ms,
          "BAD_KEY",
          'field "payload.enc_pubkey" must equal "payload.pubkey"',
        );
        return this.close(1008, "BAD_KEY");
      }
    }
    if (
      frame.sig !== "" &&
      !(await verifyPayload(this.ctx.backend, imported.key, frame.payload, frame.sig))
    ) {
      this.#refuse(
        raw,
        at_ms,
        "INVALID_SIG",
        "USER_HELLO signature does not verify with payload.pubkey",
      );
      return this.close(1008, "INVALID_SIG");
    }
    this.#user = { id: frame.from, key: imported.key };
    this.#post({ type: "UserHello", link: this.id, frame, pubkey: imported.key.spki, raw, at_ms });
  }

  async #isOwnKey(text: string): Promise<boolean> {
    const own = this.#user!.key.spki;
    if (text === own) return true;
    const imported = await this.ctx.backend.importPublic(text);
    return imported.ok && imported.key.spki === own;
  }

  #post(input: RouterInput): void {
    if (!this.ctx.post(input)) this.close(1013, "server busy, try again later");
  }

  #refuse(raw: string, at_ms: number, code: ErrorCode, detail: string): void {
    this.ctx.store.journal({
      at_ms,
      link: this.id,
      direction: "in",
      raw,
      verdict: "dropped",
      reason: `${code}: ${detail}`,
    });
    this.send(errorFrame(this.ctx.server_id(), this.#user?.id ?? "unknown", at_ms, code, detail));
    if (++this.#strikes >= LINK_BAD_FRAMES_MAX) this.close(1008, "too many bad frames");
  }
}
