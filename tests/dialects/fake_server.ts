/**
 * A scripted SOCP server speaking one client-side dialect, for the dialect tests: written from
 * the spec (SOCP-1.3.md §3.5, §3.6, §5.2) and the interop issue, on the independent reference
 * client's node:crypto helpers, not on our own code. It listens on 127.0.0.1 and hosts "their"
 * users (scripted, with fixture keys) next to ours, so both directions can be checked: list,
 * presence and DMs. Dialect knobs:
 * - `hello: "silent"` sends nothing on a good USER_HELLO (the spec defines no reply);
 * - `challenge` sends `AUTH_CHALLENGE {challenge}` and wants `AUTH_PROOF {challenge, signature}`,
 *   PSS over the raw challenge bytes with the hello key;
 * - `serverLayouts` verifies every MSG_DIRECT's content_sig under those layouts only and
 *   silently drops the rest;
 * - a user's `layouts` are the only layouts that user's client verifies.
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import { Buffer } from "node:buffer";
import { type WebSocket, WebSocketServer } from "ws";
import {
  b64Decode,
  b64uEncode,
  contentSigPreimage,
  type ContentSigVariant,
  fixtureKeyPem,
  type Frame,
  importPublicKey,
  oaepDecrypt,
  oaepEncrypt,
  pssSign,
  pssVerify,
  publicKeyText,
  signPayload,
} from "../independent/ref_client.ts";

/** How the fake server behaves. */
export interface Dialect {
  hello: "silent" | "ack";
  /** Challenge bytes to send as `AUTH_CHALLENGE {challenge}`; none: no challenge. */
  challenge?: () => Uint8Array;
  /** Layouts MSG_DIRECT content_sig must verify under; others are dropped without a word. */
  serverLayouts?: ContentSigVariant[];
  /** The server's id (default a UUID v4; some servers use placeholders like "server_1"). */
  id?: string;
  /** An ERROR code to refuse every USER_HELLO with. */
  refuse?: string;
}

/** A user hosted by the fake server ("their" user). */
export interface TheirUser {
  id: string;
  name: string;
  key: KeyObject;
  pubkey: string;
  /** Layouts this user's client verifies; others count as not verified. */
  layouts: ContentSigVariant[];
  /** DMs delivered to this user: plaintext and the layout that verified (or undefined). */
  inbox: { from: string; text: string; layout?: ContentSigVariant }[];
}

interface OurUser {
  id: string;
  pubkey: string;
  socket: WebSocket;
  pendingChallenge?: string;
}

/** One scripted server. */
export class FakeServer {
  readonly id: string;
  readonly key = createPrivateKey(fixtureKeyPem("server1"));
  readonly pubkey = publicKeyText(this.key);
  readonly received: Frame[] = [];
  readonly their = new Map<string, TheirUser>();
  readonly ours = new Map<string, OurUser>();
  /** MSG_DIRECTs dropped because their content_sig was not in `serverLayouts`. */
  dropped = 0;
  /** AUTH_PROOFs that verified. */
  proofs = 0;
  #wss!: WebSocketServer;
  port = 0;

  constructor(readonly dialect: Dialect) {
    this.id = dialect.id ?? crypto.randomUUID();
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  async start(): Promise<void> {
    this.#wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise<void>((resolve) => this.#wss.once("listening", () => resolve()));
    this.port = (this.#wss.address() as { port: number }).port;
    this.#wss.on("connection", (socket) => {
      let user: OurUser | undefined;
      socket.on("message", (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        this.received.push(frame);
        if (frame.type === "USER_HELLO") user = this.#hello(socket, frame);
        else if (user) this.#onFrame(user, frame);
      });
      socket.on("close", () => {
        if (user && this.ours.get(user.id) === user) this.#leave(user.id);
      });
    });
  }

  /** Drops every user connection (as a restart would). */
  kick(): void {
    for (const client of this.#wss.clients) client.terminate();
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  /** Adds one of their users, advertised to every connected user of ours. */
  addTheirUser(name: string, keyName: string, layouts: ContentSigVariant[] = ["A", "B", "C", "D"]) {
    const key = createPrivateKey(fixtureKeyPem(keyName));
    const user: TheirUser = {
      id: crypto.randomUUID(),
      name,
      key,
      pubkey: publicKeyText(key),
      layouts,
      inbox: [],
    };
    this.their.set(user.id, user);
    for (const ours of this.ours.values()) this.#advertise(ours.socket, user.id, user.pubkey, name);
    return user;
  }

  /** One of their users leaves: USER_REMOVE to ours. */
  removeTheirUser(id: string): void {
    this.their.delete(id);
    for (const ours of this.ours.values()) {
      this.#send(ours.socket, "USER_REMOVE", ours.id, { user_id: id, server_id: this.id });
    }
  }

  /** Their user sends ours a DM signed with `layout`, delivered as USER_DELIVER (§3.6). */
  dm(from: TheirUser, to: string, text: string, layout: ContentSigVariant): void {
    const ours = this.ours.get(to)!;
    const ts = Date.now();
    const ciphertext = b64uEncode(oaepEncrypt(importPublicKey(ours.pubkey), Buffer.from(text)));
    const preimage = contentSigPreimage(layout, { ciphertext, from: from.id, to, ts });
    this.#send(ours.socket, "USER_DELIVER", to, {
      ciphertext,
      sender: from.id,
      sender_pub: from.pubkey,
      content_sig: b64uEncode(pssSign(from.key, preimage, 32)),
    }, ts);
  }

  /** Sends one of ours a frame that claims to be from this server but is signed by `keyName`. */
  forge(to: string, type: string, payload: Record<string, unknown>, keyName: string): void {
    const key = createPrivateKey(fixtureKeyPem(keyName));
    const frame = {
      type,
      from: this.id,
      to,
      ts: Date.now(),
      payload,
      sig: signPayload(key, payload, 32),
    };
    this.ours.get(to)?.socket.send(JSON.stringify(frame));
  }

  /** The sorted ids a list request on this server answers (their users and ours). */
  listed(): string[] {
    return [...this.their.keys(), ...this.ours.keys()].sort();
  }

  #hello(socket: WebSocket, frame: Frame): OurUser {
    const user: OurUser = { id: frame.from!, pubkey: String(frame.payload?.pubkey), socket };
    if (this.dialect.refuse) {
      this.#send(socket, "ERROR", user.id, { code: this.dialect.refuse, detail: "refused" });
      user.pendingChallenge = "(refused)";
      return user;
    }
    const challenge = this.dialect.challenge?.();
    if (challenge) {
      user.pendingChallenge = b64uEncode(challenge);
      this.#send(socket, "AUTH_CHALLENGE", user.id, { challenge: user.pendingChallenge });
    } else this.#accept(user);
    return user;
  }

  #accept(user: OurUser): void {
    if (this.dialect.hello === "ack") {
      this.#send(user.socket, "ACK", user.id, {
        msg_ref: "USER_HELLO",
        server_id: this.id,
        server_pub: this.pubkey,
      });
    }
    for (const other of this.ours.values()) {
      this.#advertise(other.socket, user.id, user.pubkey, "");
      this.#advertise(user.socket, other.id, other.pubkey, "");
    }
    this.ours.set(user.id, user);
    for (const t of this.their.values()) this.#advertise(user.socket, t.id, t.pubkey, t.name);
  }

  #leave(id: string): void {
    this.ours.delete(id);
    for (const other of this.ours.values()) {
      this.#send(other.socket, "USER_REMOVE", other.id, { user_id: id, server_id: this.id });
    }
  }

  #onFrame(user: OurUser, frame: Frame): void {
    const p = frame.payload ?? {};
    if (frame.type === "AUTH_PROOF" && user.pendingChallenge !== undefined) {
      const ok = p.challenge === user.pendingChallenge &&
        pssVerify(
          importPublicKey(user.pubkey),
          b64Decode(user.pendingChallenge),
          String(p.signature),
        );
      user.pendingChallenge = undefined;
      if (!ok) {
        return this.#send(user.socket, "ERROR", user.id, {
          code: "INVALID_SIG",
          detail: "AUTH_PROOF does not verify",
        });
      }
      this.proofs++;
      return this.#accept(user);
    }
    if (user.pendingChallenge !== undefined) return; // Nothing counts before the proof.
    if (frame.type === "LIST_REQUEST") {
      return this.#send(user.socket, "LIST_RESPONSE", user.id, { users: this.listed() });
    }
    if (frame.type === "MSG_DIRECT") return this.#direct(user, frame);
    if (frame.type === "CTRL_CLOSE") user.socket.close(1000);
  }

  #direct(user: OurUser, frame: Frame): void {
    const p = frame.payload as { ciphertext: string; content_sig: string; sender_pub: string };
    const fields = { ciphertext: p.ciphertext, from: user.id, to: frame.to!, ts: frame.ts! };
    const sender = importPublicKey(user.pubkey);
    const verifies = (layouts: ContentSigVariant[]) =>
      layouts.find((l) => pssVerify(sender, contentSigPreimage(l, fields), p.content_sig));
    if (this.dialect.serverLayouts && verifies(this.dialect.serverLayouts) === undefined) {
      this.dropped++;
      return;
    }
    const them = this.their.get(frame.to!);
    if (them) {
      const text = oaepDecrypt(them.key, b64Decode(p.ciphertext)).toString("utf8");
      them.inbox.push({ from: user.id, text, layout: verifies(them.layouts) });
      return;
    }
    const ours = this.ours.get(frame.to!);
    if (ours) {
      this.#send(ours.socket, "USER_DELIVER", ours.id, {
        ciphertext: p.ciphertext,
        sender: user.id,
        sender_pub: p.sender_pub,
        content_sig: p.content_sig,
      }, frame.ts);
    }
  }

  #advertise(socket: WebSocket, user_id: string, pubkey: string, name: string): void {
    this.#send(socket, "USER_ADVERTISE", "*", {
      user_id,
      server_id: this.id,
      pubkey,
      meta: name ? { display_name: name } : {},
    });
  }

  #send(
    socket: WebSocket,
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts = Date.now(),
  ): void {
    const sig = signPayload(this.key, payload, 32);
    socket.send(JSON.stringify({ type, from: this.id, to, ts, payload, sig }));
  }
}

/** Fresh random challenge bytes. */
export function randomChallenge(bytes = 24): () => Uint8Array {
  return () => new Uint8Array(randomBytes(bytes));
}

/** The SPKI base64url of a fixture key. */
export function fixtureSpki(name: string): string {
  return publicKeyText(createPublicKey(createPrivateKey(fixtureKeyPem(name))));
}
