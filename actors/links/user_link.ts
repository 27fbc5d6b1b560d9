/**
 * The user side of a link: the USER_HELLO handshake (key import, optional proof of
 * possession), then every frame checked to come from that user, with a valid signature if it
 * carries one, and (for DMs) the user's own key as `sender_pub`.
 * @module
 */
import type { PublicKey } from "../../crypto/types.ts";
import { verifyPayload } from "../../crypto/signing.ts";
import { b64uDecode, type FrameOf } from "../../protocol/mod.ts";
import { LoginResponder } from "./user_login.ts";
import { authMessage } from "../../protocol/auth_message.ts";
import { USER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import { isUuidV4 } from "../../protocol/ids.ts";
import type { FrameHandler, Link } from "./link.ts";
import { CONTENT_TYPES } from "../router/router_content.ts";

/** Handles the frames of a link whose first frame was USER_HELLO. */
export class UserLinkHandler implements FrameHandler {
  readonly role = "user";
  /** Who said hello; the key stays imported in the shared `userKeys` cache, not here. */
  #user?: { id: string; spki: string };
  #challenge?: {
    frame: FrameOf<"USER_HELLO">;
    raw: string;
    at_ms: number;
    key: PublicKey;
    nonce: string;
  };
  #login: LoginResponder;

  constructor(private readonly link: Link) {
    this.#login = new LoginResponder(link);
  }

  /** The user id this link said hello as. */
  get userId(): string | undefined {
    return this.#user?.id;
  }

  /** Resumes a link whose hello was accepted before (replay starting mid-stream). */
  resume(id: string, key: PublicKey): void {
    this.#accept(id, key);
  }

  #accept(id: string, key: PublicKey): void {
    this.link.ctx.userKeys.put(key);
    this.#user = { id, spki: key.spki };
  }

  async handle(raw: string, at_ms: number): Promise<void> {
    const frame = this.link.parse(raw, at_ms, USER_FRAME_BYTES_MAX, this.#user?.id);
    if (frame === undefined) return;
    const link = this.link;
    const user = this.#user;
    if (user === undefined) {
      if (frame.type === "LOGIN_START" || frame.type === "LOGIN_PROOF") {
        return this.#login.handle(frame, raw, at_ms);
      }
      if (frame.type === "AUTH_RESPONSE" && this.#challenge) {
        return await this.#authenticated(frame, raw);
      }
      if (frame.type !== "USER_HELLO" || this.#challenge) {
        return link.refuse({
          raw,
          at_ms,
          code: "UNKNOWN_TYPE",
          detail: `first frame must be USER_HELLO, got ${frame.type}`,
        });
      }
      return await this.#hello(frame, raw, at_ms);
    }
    if (frame.type === "USER_HELLO") {
      return link.refuse({
        raw,
        at_ms,
        code: "NAME_IN_USE",
        detail: "USER_HELLO was already sent on this link",
        to: user.id,
      });
    }
    if (frame.type === "CTRL_CLOSE") frame.from = user.id;
    if (frame.from !== user.id) {
      return link.refuse({
        raw,
        at_ms,
        code: "BAD_KEY",
        detail: `field "from" must be your user id ${user.id}`,
        to: user.id,
      });
    }
    if (frame.sig !== "" && !(await this.#verifies(user.spki, frame))) {
      return link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `signature of ${frame.type} does not verify with your key`,
        to: user.id,
      });
    }
    if (frame.type === "MSG_DIRECT" && !(await this.#isOwnKey(frame.payload.sender_pub))) {
      return link.refuse({
        raw,
        at_ms,
        code: "BAD_KEY",
        detail: 'field "payload.sender_pub" is not the key bound to your user id',
        to: user.id,
      });
    }
    if (CONTENT_TYPES.has(frame.type)) await link.ctx.uncongested();
    link.post({ type: "FromUser", link: link.id, frame, raw, at_ms });
  }

  async #hello(frame: FrameOf<"USER_HELLO">, raw: string, at_ms: number): Promise<void> {
    const { link } = this;
    const { backend } = link.ctx;
    if (!isUuidV4(frame.from)) {
      // Servers may get aliases for placeholder ids; users never do: their id is their name in
      // every directory and in every content signature, and must be unique in the network.
      const detail = `field "from" must be a UUID v4: user ids are UUID v4 (SOCP §1), got "${
        frame.from.slice(0, 64)
      }"`;
      link.refuse({ raw, at_ms, code: "BAD_KEY", detail, to: frame.from });
      return link.close(1008, "BAD_KEY");
    }
    const imported = await backend.importPublic(frame.payload.pubkey);
    if (!imported.ok) {
      const detail = `field "payload.pubkey": ${imported.reason}`;
      link.refuse({ raw, at_ms, code: "BAD_KEY", detail, to: frame.from });
      return link.close(1008, "BAD_KEY");
    }
    const enc = frame.payload.enc_pubkey;
    if (enc !== undefined && enc !== frame.payload.pubkey) {
      const encImport = await backend.importPublic(enc);
      // One key pair serves both purposes (§5.3); a different encryption key is refused.
      if (!encImport.ok || encImport.key.spki !== imported.key.spki) {
        link.refuse({
          raw,
          at_ms,
          code: "BAD_KEY",
          detail: 'field "payload.enc_pubkey" must equal "payload.pubkey"',
          to: frame.from,
        });
        return link.close(1008, "BAD_KEY");
      }
    }
    if (
      frame.sig !== "" && !(await verifyPayload(backend, imported.key, frame.payload, frame.sig))
    ) {
      link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: "USER_HELLO signature does not verify with payload.pubkey",
        to: frame.from,
      });
      return link.close(1008, "INVALID_SIG");
    }
    // A user with a password login must also prove it holds the key now (§15 P15): a replayed
    // USER_HELLO cannot answer a fresh nonce.
    const state = link.ctx.state();
    const record = state.users.get(frame.from);
    // Already connected: the Router answers NAME_IN_USE, no challenge needed.
    if (
      record?.login && record.pubkey === imported.key.spki && !state.local_users.has(frame.from)
    ) {
      const nonce = link.ctx.random.uuid();
      this.#challenge = { frame, raw, at_ms, key: imported.key, nonce };
      link.send({
        type: "AUTH_CHALLENGE",
        from: link.ctx.state().server_id,
        to: frame.from,
        ts: at_ms,
        payload: { nonce },
      });
      return;
    }
    this.#accept(frame.from, imported.key);
    link.post({ type: "UserHello", link: link.id, frame, pubkey: imported.key.spki, raw, at_ms });
  }

  async #authenticated(response: FrameOf<"AUTH_RESPONSE">, responseRaw: string): Promise<void> {
    const { frame, raw, at_ms, key, nonce } = this.#challenge!;
    this.#challenge = undefined;
    const { link } = this;
    const signature = b64uDecode(response.payload.signature);
    const message = authMessage(link.ctx.state().server_id, frame.from, nonce);
    if (
      response.payload.nonce !== nonce || !signature ||
      !(await link.ctx.backend.verify(key, message, signature))
    ) {
      // Journaled as a note: the nonce was random, so replay shows this step but cannot re-run it.
      link.note({
        raw: responseRaw,
        at_ms,
        code: "INVALID_SIG",
        detail: "AUTH_RESPONSE does not prove possession of the key bound to this user id",
        to: frame.from,
      });
      return link.close(1008, "INVALID_SIG");
    }
    this.#accept(frame.from, key);
    link.post({
      type: "UserHello",
      link: link.id,
      frame,
      pubkey: key.spki,
      raw,
      at_ms,
      auth: { nonce, response: responseRaw },
    });
  }

  async #verifies(spki: string, frame: { payload: unknown; sig: string }): Promise<boolean> {
    const key = await this.link.ctx.userKeys.get(spki);
    return key !== undefined &&
      await verifyPayload(this.link.ctx.backend, key, frame.payload, frame.sig);
  }

  async #isOwnKey(text: string): Promise<boolean> {
    const own = this.#user!.spki;
    if (text === own) return true;
    const imported = await this.link.ctx.backend.importPublic(text);
    return imported.ok && imported.key.spki === own;
  }
}
