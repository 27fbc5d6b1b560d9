/**
 * Password login on a user link, before USER_HELLO (spec §13 recommended model, our extension).
 * SRP-6a (npm:secure-remote-password, RFC 5054 2048-bit group, SHA-256): the server holds only
 * a salted verifier, learns nothing that lets it test passwords offline from the exchange, and
 * hands out the encrypted key blob only to a client that proved it knows the password. The
 * password is stretched with PBKDF2 on the client before SRP, so a stolen verifier is costly to
 * attack. Wrong passwords cost the guesser, never the real user: a link gets three tries and is
 * then closed; nothing is locked.
 * @module
 */
import srpServer from "secure-remote-password/server.js";
import type { FrameOf } from "../../protocol/mod.ts";
import { LOGIN_ATTEMPTS_PER_LINK_MAX } from "../../protocol/limits.ts";
import type { Link } from "./link.ts";

/** The stored form of `users.pake_password`. */
export interface PakeVerifier {
  scheme: "srp6a-sha256-2048+pbkdf2-sha256";
  kdf: { iterations: number; salt: string };
  srp_salt: string;
  verifier: string;
}

/** Answers LOGIN_START and LOGIN_PROOF on one link. */
export class LoginResponder {
  #pending?: {
    user_id: string;
    A: string;
    secret: string;
    pake: PakeVerifier;
    privkey_store: string;
  };
  #failures = 0;

  constructor(private readonly link: Link) {}

  handle(frame: FrameOf<"LOGIN_START"> | FrameOf<"LOGIN_PROOF">, raw: string, at_ms: number): void {
    if (frame.type === "LOGIN_START") this.#start(frame, raw, at_ms);
    else this.#proof(frame, raw, at_ms);
  }

  /** LOGIN_START: the SRP challenge for a user with a registered password login. */
  #start(frame: FrameOf<"LOGIN_START">, raw: string, at_ms: number): void {
    const { link } = this;
    const user_id = frame.payload.user_id;
    const me = link.ctx.state().server_id;
    const login = link.ctx.state().users.get(user_id)?.login;
    const pake = login && parsePake(login.pake_password);
    if (!login || !pake) {
      return link.note({
        raw,
        at_ms,
        code: "USER_NOT_FOUND",
        detail: `no password login is registered for user ${user_id} on this server`,
        to: user_id,
      });
    }
    let ephemeral;
    try {
      ephemeral = srpServer.generateEphemeral(pake.verifier);
    } catch {
      return link.note({
        raw,
        at_ms,
        code: "BAD_KEY",
        detail: "the stored login verifier is unusable",
        to: user_id,
      });
    }
    this.#pending = {
      user_id,
      A: frame.payload.A,
      secret: ephemeral.secret,
      pake,
      privkey_store: login.privkey_store,
    };
    link.send({
      type: "LOGIN_CHALLENGE",
      from: me,
      to: user_id,
      ts: at_ms,
      payload: {
        user_id,
        srp_salt: pake.srp_salt,
        B: ephemeral.public,
        kdf: { name: "PBKDF2-SHA256", ...pake.kdf },
      },
    });
  }

  /** LOGIN_PROOF: the password was right (LOGIN_OK with the key blob) or a try is used up. */
  #proof(frame: FrameOf<"LOGIN_PROOF">, raw: string, at_ms: number): void {
    const { link } = this;
    const user_id = frame.payload.user_id;
    const me = link.ctx.state().server_id;
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending || pending.user_id !== user_id) {
      return link.note({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: "LOGIN_PROOF without a LOGIN_START for that user",
        to: user_id,
      });
    }
    let proof: string;
    try {
      proof = srpServer.deriveSession(
        pending.secret,
        pending.A,
        pending.pake.srp_salt,
        user_id,
        pending.pake.verifier,
        frame.payload.M1,
      ).proof;
    } catch {
      this.#failures++;
      const left = LOGIN_ATTEMPTS_PER_LINK_MAX - this.#failures;
      link.note({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `wrong password for user ${user_id}${
          left > 0 ? ` (${left} more attempt(s) on this connection)` : ""
        }`,
        to: user_id,
      });
      if (left <= 0) link.close(1008, "too many wrong passwords");
      return;
    }
    link.send({
      type: "LOGIN_OK",
      from: me,
      to: user_id,
      ts: at_ms,
      payload: { user_id, M2: proof, privkey_store: pending.privkey_store },
    });
  }
}

/** Reads a stored verifier; undefined when it is not ours or malformed. */
export function parsePake(text: string): PakeVerifier | undefined {
  try {
    const v = JSON.parse(text);
    const ok = v?.scheme === "srp6a-sha256-2048+pbkdf2-sha256" && typeof v.srp_salt === "string" &&
      typeof v.verifier === "string" &&
      Number.isInteger(v.kdf?.iterations) && typeof v.kdf?.salt === "string";
    return ok ? v : undefined;
  } catch {
    return undefined;
  }
}
