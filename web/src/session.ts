/**
 * The browser client's session with its server, following client/session.ts: USER_HELLO, the
 * server's ACK (its key pinned and every later frame from it verified), a directory from
 * USER_ADVERTISE / USER_REMOVE / LIST_RESPONSE, DMs (content_sig variant A), the public channel
 * (one MSG_PUBLIC_CHANNEL per member, §15 P11) and files. On top: reconnection with backoff, and
 * trust-on-first-use of every user's key, remembered across visits, with a visible warning
 * when a known key changes. All crypto happens here, in the browser; the server never sees a
 * private key or plaintext. No DOM: only WebSocket and timers.
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import {
  HELLO_QUIET_MS,
  OAEP_PLAINTEXT_BYTES_MAX,
  PEER_LAYOUTS_MAX,
} from "../../protocol/limits.ts";
import { checkChallenge, SignedChallenges } from "../../protocol/auth_challenge.ts";
import { SERVER_TO_USER_TYPES } from "../../protocol/server_frames.ts";
import {
  describeLayout,
  initialLayout,
  isLayout,
  type Layout,
  layoutFor,
  type LayoutSetting,
  learnLayout,
} from "../../protocol/content_sig_layout.ts";
import { LruMap } from "../../lib/lru.ts";
import type { Clock } from "../../lib/world.ts";
import { type FileEvent, FileReceiver, sendFile } from "./files.ts";
import { decrypt, encrypt, importPublic, type KeyPair, type PublicKey, sign } from "./rsa.ts";
import {
  signDm,
  signPayload,
  signPublic,
  verifyDm,
  verifyPayload,
  verifyPublic,
} from "./signing.ts";
import { authMessage } from "../../protocol/auth_message.ts";
import {
  arr,
  errorSentence,
  type Frame,
  isId,
  obj,
  readFrame,
  str,
} from "../../client/core/wire.ts";
import { splitUtf8 } from "../../protocol/text.ts";

/** A user's key as remembered between visits (trust on first use). */
export interface KnownKey {
  user_id: string;
  /** The key the user accepted (first seen, or confirmed after a change). */
  spki: string;
  fingerprint: string;
  label: string;
  first_seen: number;
  /** A different key the directory now gives for this user, not confirmed yet. */
  changed?: { spki: string; fingerprint: string; at: number };
}

/** The server key seen at a URL ("" when the server never proved one). */
export interface ServerPin {
  url: string;
  server_id: string;
  spki: string;
  fingerprint: string;
  /** The content_sig layout learned for this server while it had this key. */
  content_sig?: Layout;
}

/** Where the session remembers keys (IndexedDB in the page, a Map in tests). */
export interface Memory {
  knownKey(user_id: string): Promise<KnownKey | undefined>;
  saveKnownKey(key: KnownKey): Promise<void>;
  serverPin(url: string): Promise<ServerPin | undefined>;
  saveServerPin(pin: ServerPin): Promise<void>;
}

/** A user in the directory. */
export interface Contact {
  user_id: string;
  key: PublicKey;
  display_name?: string;
  server_id: string;
  online: boolean;
  /** Set while the directory's key differs from the one we remember. */
  keyChanged?: { previous: string; current: string };
}

/** The connection as the user should see it. */
export type ConnectionState =
  | { state: "connecting"; attempt: number }
  | {
    state: "online";
    server_id: string;
    server_fingerprint: string;
    /** `quiet`: no answer to USER_HELLO and no ERROR within the quiet period. */
    hello: "ack" | "quiet";
    content_sig: string;
  }
  | { state: "waiting"; retryAt: number; attempt: number; reason: string }
  | { state: "stopped"; reason: string };

/** Something the user should see. */
export type SessionEvent =
  | { kind: "connection"; connection: ConnectionState }
  | { kind: "contacts" }
  | { kind: "key_changed"; user_id: string; previous: string; current: string }
  | {
    kind: "dm";
    from: string;
    to: string;
    text: string;
    ts: number;
    verified: boolean;
    note?: string;
  }
  | { kind: "public"; from: string; text: string; ts: number; verified: boolean; note?: string }
  | { kind: "error"; code: string; detail: string; sentence: string }
  /** What the server says became of a sent message (our servers' delivery extension). */
  | { kind: "delivery"; msg_ref: string; status: string; detail: string }
  | { kind: "warning"; message: string }
  | FileEvent;

/** What a session needs. */
export interface SessionOptions {
  url: string;
  user_id: string;
  pair: KeyPair;
  display_name?: string;
  memory: Memory;
  onEvent: (event: SessionEvent) => void;
  /** First reconnect delay (doubles per failure, with jitter, up to `backoffMaxMs`). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Quiet milliseconds after USER_HELLO (no answer, no ERROR) after which we count as online. */
  helloQuietMs?: number;
  /** content_sig layout for DMs: one of A-D, or learned per server (default). */
  contentSig?: LayoutSetting;
  /** Timers for the quiet period (tests inject their own). */
  timers?: Pick<Clock, "setTimeout" | "clearTimeout">;
}

/** Error codes that make retrying pointless: the server refuses this identity. */
const FATAL_BEFORE_READY = new Set(["BAD_KEY", "INVALID_SIG"]);

/** One user's connection, kept up until {@linkcode ChatSession.stop}. */
export class ChatSession {
  readonly contacts = new Map<string, Contact>();
  connection: ConnectionState = { state: "connecting", attempt: 0 };
  #socket?: WebSocket;
  #generation = 0;
  #serverId = "";
  #seenRefs = new Set<string>();
  #serverKey?: PublicKey;
  #ready = false;
  #stopped = false;
  #failures = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #lastTs = 0;
  #inbox: Promise<void> = Promise.resolve();
  #listWaiters: (() => void)[] = [];
  #files: FileReceiver;
  #fatal?: string;
  #layout: Layout = "A";
  #peerLayouts = new LruMap<string, Layout>(PEER_LAYOUTS_MAX);
  #challenges = new SignedChallenges();
  #quietTimer?: ReturnType<Clock["setTimeout"]>;

  constructor(private readonly options: SessionOptions) {
    this.#files = new FileReceiver({
      pair: () => options.pair,
      keyOf: (user) => this.contacts.get(user)?.key,
      emit: (e) => options.onEvent(e),
    });
  }

  get user_id(): string {
    return this.options.user_id;
  }

  /** Connects (again). */
  start(): void {
    this.#stopped = false;
    this.#fatal = undefined;
    clearTimeout(this.#timer);
    this.#connect();
  }

  /** Says goodbye and stays offline. */
  stop(reason = "signed out"): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket?.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({
        type: "CTRL_CLOSE",
        from: this.options.user_id,
        to: this.#serverId || "server",
        ts: this.#nextTs(),
        payload: {},
        sig: "",
      }));
      socket.close(1000, "bye");
    } else socket?.close();
    this.#offline();
    this.#setConnection({ state: "stopped", reason });
  }

  /** Retries now instead of waiting for the backoff. */
  retryNow(): void {
    if (this.connection.state === "waiting") {
      clearTimeout(this.#timer);
      this.#connect();
    }
  }

  /** The label of a user: display name if known, else the id (§6.4). */
  label(user_id: string): string {
    if (user_id === this.options.user_id) return this.options.display_name ?? user_id;
    return this.contacts.get(user_id)?.display_name ?? user_id;
  }

  /** Accepts a changed key after the user compared fingerprints. */
  async trustNewKey(user_id: string): Promise<void> {
    const contact = this.contacts.get(user_id);
    const known = await this.options.memory.knownKey(user_id);
    if (!contact || !known) return;
    await this.options.memory.saveKnownKey({
      user_id,
      spki: contact.key.spki,
      fingerprint: contact.key.fingerprint,
      label: this.label(user_id),
      first_seen: Date.now(),
    });
    delete contact.keyChanged;
    this.options.onEvent({ kind: "contacts" });
  }

  /**
   * Sends a DM (several, in order, if it does not fit one RSA block). Returns each part's
   * reference (`sender|recipient|ts`), which delivery notices name.
   */
  async sendDm(user_id: string, text: string): Promise<string[]> {
    const contact = this.#recipient(user_id);
    const pieces = splitUtf8(text, OAEP_PLAINTEXT_BYTES_MAX);
    const refs: string[] = [];
    for (const piece of pieces) {
      const ts = this.#nextTs();
      const ciphertext = b64uEncode(await encrypt(contact.key, piece));
      const content_sig = await signDm(this.options.pair, {
        ciphertext,
        from: this.options.user_id,
        to: user_id,
        ts,
      }, layoutFor(this.#setting, this.#layout, this.#peerLayouts.get(user_id)));
      await this.#sendSigned("MSG_DIRECT", user_id, {
        ciphertext,
        sender_pub: this.options.pair.publicKey.spki,
        content_sig,
      }, ts);
      refs.push(`${this.options.user_id}|${user_id}|${ts}`);
    }
    return refs;
  }

  /** Posts to the public channel: one copy per online member, each encrypted for them. */
  async sendPublic(text: string): Promise<{ sent: number; skipped: string[] }> {
    this.#requireOnline();
    const members = [...this.contacts.values()].filter((c) => c.online);
    const ok = members.filter((c) => !c.keyChanged);
    for (const piece of splitUtf8(text, OAEP_PLAINTEXT_BYTES_MAX)) {
      for (const member of ok) {
        const ts = this.#nextTs();
        const ciphertext = b64uEncode(await encrypt(member.key, piece));
        const content_sig = await signPublic(this.options.pair, {
          ciphertext,
          from: this.options.user_id,
          ts,
        });
        this.#sendRaw(
          "MSG_PUBLIC_CHANNEL",
          member.user_id,
          {
            ciphertext,
            sender_pub: this.options.pair.publicKey.spki,
            content_sig,
          },
          ts,
          "",
        );
      }
    }
    return {
      sent: ok.length,
      skipped: members.filter((c) => c.keyChanged).map((c) => this.label(c.user_id)),
    };
  }

  /** Sends a file to one user, or to every online member (`"public"`). */
  async sendFile(
    target: string,
    name: string,
    data: Uint8Array,
    progress: (done: number, total: number) => void,
  ): Promise<{ file_id: string; recipients: number }> {
    const recipients = target === "public"
      ? [...this.contacts.values()].filter((c) => c.online && !c.keyChanged)
      : [this.#recipient(target)];
    if (recipients.length === 0) throw new Error("Nobody else is online.");
    this.#requireOnline();
    const generation = this.#generation;
    const file_id = await sendFile(
      {
        pair: this.options.pair,
        user_id: this.options.user_id,
        send: (type, to, payload, ts) => {
          if (this.#generation !== generation) {
            throw new Error("The connection dropped while sending.");
          }
          this.#sendRaw(type, to, payload, ts, "");
        },
        sync: () => this.#sync(),
        nextTs: () => this.#nextTs(),
        progress,
      },
      recipients,
      name,
      data,
      target === "public" ? "public" : "dm",
    );
    return { file_id, recipients: recipients.length };
  }

  #recipient(user_id: string): Contact {
    this.#requireOnline();
    const contact = this.contacts.get(user_id);
    if (!contact) throw new Error("That user is not in the directory.");
    if (contact.keyChanged) {
      throw new Error(
        `${
          this.label(user_id)
        }'s key changed. Compare fingerprints with them, then choose "Trust new key".`,
      );
    }
    return contact;
  }

  #requireOnline(): void {
    if (this.connection.state !== "online") {
      throw new Error("Not connected: wait until the status says Online.");
    }
  }

  #connect(): void {
    const generation = ++this.#generation;
    this.#ready = false;
    this.#inbox = Promise.resolve();
    this.#setConnection({ state: "connecting", attempt: this.#failures + 1 });
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.options.url);
    } catch (e) {
      return this.#lost(generation, `cannot connect: ${(e as Error).message}`);
    }
    this.#socket = socket;
    socket.onopen = async () => {
      await this.#usePin();
      const payload: Record<string, unknown> = {
        client: "socp-web/0.1",
        pubkey: this.options.pair.publicKey.spki,
        enc_pubkey: this.options.pair.publicKey.spki,
        // We confirm what we receive and understand receipts (reliable delivery, our extension).
        features: ["receipts"],
      };
      if (this.options.display_name) payload.meta = { display_name: this.options.display_name };
      try {
        await this.#sendSigned("USER_HELLO", "server", payload, this.#nextTs(), true);
        this.#waitQuietly(generation);
      } catch { /* the close handler reconnects */ }
    };
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      const text = e.data;
      this.#inbox = this.#inbox.then(() => this.#receive(text, generation)).catch((err) =>
        this.options.onEvent({ kind: "warning", message: `could not handle a frame: ${err}` })
      );
    };
    socket.onclose = (e) => {
      this.#stopQuiet();
      this.#lost(
        generation,
        e.code === 1000
          ? "the server closed the connection"
          : `connection lost (${e.code}${e.reason ? `: ${e.reason}` : ""})`,
      );
    };
  }

  #lost(generation: number, reason: string): void {
    if (generation !== this.#generation) return;
    this.#generation++;
    this.#socket = undefined;
    this.#offline();
    if (this.#stopped) return;
    if (this.#fatal) return this.#setConnection({ state: "stopped", reason: this.#fatal });
    this.#failures++;
    const base = this.options.backoffBaseMs ?? 1000;
    const max = this.options.backoffMaxMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** Math.min(this.#failures - 1, 16));
    const wait = Math.round(delay * (0.5 + Math.random() / 2));
    this.#setConnection({
      state: "waiting",
      retryAt: Date.now() + wait,
      attempt: this.#failures,
      reason,
    });
    this.#timer = setTimeout(() => this.#connect(), wait);
  }

  #offline(): void {
    this.#ready = false;
    for (const w of this.#listWaiters.splice(0)) w();
    this.#files.abort("the connection dropped before the file was complete");
    let changed = false;
    for (const c of this.contacts.values()) {
      if (c.online) {
        c.online = false;
        changed = true;
      }
    }
    if (changed) this.options.onEvent({ kind: "contacts" });
  }

  /** The server key pinned for this URL verifies its frames until (unless) it answers hello. */
  async #usePin(): Promise<void> {
    const pin = await this.options.memory.serverPin(this.options.url);
    const imported = pin?.spki ? await importPublic(pin.spki) : undefined;
    this.#serverKey = imported?.ok ? imported.key : undefined;
    this.#serverId = "";
    this.#layout = initialLayout(
      this.#setting,
      pin && isLayout(pin.content_sig) ? pin.content_sig : undefined,
    );
  }

  get #setting(): LayoutSetting {
    return this.options.contentSig ?? "auto";
  }

  get #timers(): Pick<Clock, "setTimeout" | "clearTimeout"> {
    return this.options.timers ?? { setTimeout, clearTimeout };
  }

  /** (Re)starts the quiet period after USER_HELLO (and after answering a challenge). */
  #waitQuietly(generation: number): void {
    this.#stopQuiet();
    this.#quietTimer = this.#timers.setTimeout(() => {
      if (this.#generation === generation && !this.#ready) this.#online("quiet");
    }, this.options.helloQuietMs ?? HELLO_QUIET_MS);
  }

  #stopQuiet(): void {
    if (this.#quietTimer !== undefined) this.#timers.clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
  }

  #online(hello: "ack" | "quiet"): void {
    this.#stopQuiet();
    this.#ready = true;
    this.#failures = 0;
    this.#setConnection({
      state: "online",
      server_id: this.#serverId,
      server_fingerprint: this.#serverKey?.fingerprint ?? "unknown",
      hello,
      content_sig: describeLayout(this.#setting, this.#layout),
    });
  }

  #setConnection(connection: ConnectionState): void {
    this.connection = connection;
    this.options.onEvent({ kind: "connection", connection });
  }

  #nextTs(): number {
    this.#lastTs = Math.max(Date.now(), this.#lastTs + 1);
    return this.#lastTs;
  }

  async #sendSigned(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts: number,
    hello = false,
  ): Promise<void> {
    if (!hello) this.#requireOnline();
    const sig = await signPayload(this.options.pair, payload);
    this.#sendRaw(type, to, payload, ts, sig);
  }

  #sendRaw(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts: number,
    sig: string,
  ): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      throw new Error("Not connected: the message was not sent.");
    }
    socket.send(JSON.stringify({ type, from: this.options.user_id, to, ts, payload, sig }));
  }

  /** A LIST round trip: the server has handled what we sent before it. At most 10 s. */
  async #sync(): Promise<void> {
    const answered = new Promise<void>((resolve) => this.#listWaiters.push(resolve));
    this.#sendRaw("LIST_REQUEST", this.#serverId, {}, this.#nextTs(), "");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([answered, new Promise<void>((r) => timer = setTimeout(r, 10_000))]);
    clearTimeout(timer);
  }

  async #receive(text: string, generation: number): Promise<void> {
    if (generation !== this.#generation) return;
    const { frame, problem } = readFrame(text);
    if (!frame) {
      return this.options.onEvent({
        kind: "warning",
        message: `server sent a bad frame: ${problem}`,
      });
    }
    if (!(await this.#fromServerOk(frame))) {
      return this.options.onEvent({
        kind: "warning",
        message: `dropped a ${frame.type} whose server signature does not verify`,
      });
    }
    await this.#handle(frame, generation);
  }

  /**
   * Whether a frame passes the server-signature check (as client/session.ts): with a key, every
   * frame from the server must verify; a server that never answered hello is known by the first
   * frame that verifies with the pinned key; with no key, frames pass unverified, as the status
   * shows ("key unknown").
   */
  async #fromServerOk(frame: Frame): Promise<boolean> {
    const key = this.#serverKey;
    if (!key) {
      if (!this.#serverId && SERVER_TO_USER_TYPES.has(frame.type)) this.#serverId = frame.from;
      return true;
    }
    if (this.#serverId) {
      return frame.from !== this.#serverId || await verifyPayload(key, frame.payload, frame.sig);
    }
    // A hello ACK that brings its own key is checked with it when handled.
    if (
      frame.type === "ACK" && frame.payload.msg_ref === "USER_HELLO" &&
      typeof frame.payload.server_pub === "string"
    ) return true;
    if (await verifyPayload(key, frame.payload, frame.sig)) {
      this.#serverId = frame.from;
      return true;
    }
    return !SERVER_TO_USER_TYPES.has(frame.type);
  }

  async #handle(frame: Frame, generation: number): Promise<void> {
    const emit = this.options.onEvent;
    const p = frame.payload;
    switch (frame.type) {
      case "ACK": {
        const ref = str(p, "msg_ref", 1024);
        if (ref === "USER_HELLO") {
          if (!this.#ready) await this.#welcomed(frame);
        } else if (ref !== undefined && str(p, "status", 32) !== undefined) {
          // Our servers' delivery extension: "queued" while the recipient is offline.
          emit({
            kind: "delivery",
            msg_ref: ref,
            status: str(p, "status")!,
            detail: str(p, "detail", 2048) ?? "",
          });
        }
        return;
      }
      case "MSG_RECEIPT": {
        const ref = str(p, "msg_ref", 1024);
        const status = str(p, "status", 32);
        if (ref !== undefined && status !== undefined) {
          emit({ kind: "delivery", msg_ref: ref, status, detail: "" });
        }
        return;
      }
      case "AUTH_CHALLENGE": {
        const refusal = await this.#answerChallenge(frame);
        if (this.#ready) return;
        if (refusal === undefined) return this.#waitQuietly(generation); // An ERROR may follow.
        // Unproven, we are not connected; retrying would meet the same kind of challenge.
        this.#fatal = `Refused the server's AUTH_CHALLENGE: ${refusal}`;
        this.#stopQuiet();
        if (generation === this.#generation) this.#socket?.close(4000, "auth challenge refused");
        return;
      }
      case "ERROR": {
        const code = str(p, "code", 64) ?? "ERROR";
        const detail = str(p, "detail", 2048) ?? "";
        emit({ kind: "error", code, detail, sentence: errorSentence(code) });
        if (!this.#ready) {
          // The hello was refused: not online. Retry later, unless retrying cannot help.
          if (FATAL_BEFORE_READY.has(code)) this.#fatal = `${errorSentence(code)} ${detail}`.trim();
          this.#stopQuiet();
          if (generation === this.#generation) this.#socket?.close(4000, `hello refused: ${code}`);
        }
        return;
      }
      case "USER_ADVERTISE": {
        const meta = obj(p, "meta");
        return await this.#learn(
          str(p, "user_id", 256),
          str(p, "server_id", 256) ?? frame.from,
          str(p, "pubkey") ?? str(meta, "pubkey"),
          str(meta, "display_name", 64),
        );
      }
      case "USER_REMOVE": {
        const contact = this.contacts.get(str(p, "user_id", 256) ?? "");
        if (contact && contact.server_id === str(p, "server_id", 256) && contact.online) {
          contact.online = false;
          emit({ kind: "contacts" });
        }
        return;
      }
      case "LIST_RESPONSE": {
        for (const entry of arr(p, "entries")) {
          await this.#learn(
            str(entry, "user_id", 256),
            str(entry, "server_id", 256) ?? "",
            str(entry, "pubkey"),
            str(entry, "display_name", 64),
          );
        }
        this.#listWaiters.shift()?.();
        return;
      }
      case "USER_DELIVER":
        return await this.#onDeliver(frame);
      case "MSG_PUBLIC_CHANNEL":
        return await this.#onPublic(frame);
      case "FILE_START":
        this.#ack(frame.from, frame.ts, frame.type);
        return await this.#files.start(frame);
      case "FILE_CHUNK":
        this.#ack(frame.from, frame.ts, frame.type);
        return this.#files.chunk(frame);
      case "FILE_END":
        this.#ack(frame.from, frame.ts, frame.type);
        return await this.#files.end(frame);
      case "CTRL_CLOSE":
        if (generation === this.#generation) this.#socket?.close(1000);
        return;
      default:
        return;
    }
  }

  /**
   * Proves we hold our key: `{nonce}` (our servers) bound to server, user and nonce; `{challenge}`
   * (a dialect) as PSS over its raw bytes, answered with AUTH_PROOF, only when it cannot stand
   * for another signature of this key and was never signed before (protocol/auth_challenge.ts).
   */
  async #answerChallenge(frame: Frame): Promise<string | undefined> {
    const p = frame.payload;
    const nonce = str(p, "nonce", 256);
    if (nonce) {
      const signature = b64uEncode(
        await sign(this.options.pair, authMessage(frame.from, this.options.user_id, nonce)),
      );
      await this.#sendUnready("AUTH_RESPONSE", frame.from, { nonce, signature });
      return undefined;
    }
    const challenge = str(p, "challenge", 1024);
    const checked = checkChallenge(challenge);
    const refusal = !checked.ok
      ? checked.reason
      : !this.#challenges.fresh(challenge!)
      ? "this challenge was signed before: a server must send a fresh one"
      : undefined;
    if (refusal !== undefined || !checked.ok) {
      this.options.onEvent({
        kind: "warning",
        message: `Refused to sign the server's AUTH_CHALLENGE: ${refusal}`,
      });
      return refusal ?? "unusable challenge";
    }
    const signature = b64uEncode(await sign(this.options.pair, checked.bytes));
    await this.#sendUnready("AUTH_PROOF", frame.from, { challenge: challenge!, signature });
    return undefined;
  }

  /** A signed frame that may go before the session is online (answers during hello). */
  async #sendUnready(type: string, to: string, payload: Record<string, unknown>): Promise<void> {
    this.#sendRaw(type, to, payload, this.#nextTs(), await signPayload(this.options.pair, payload));
  }

  async #welcomed(frame: Frame): Promise<void> {
    const emit = this.options.onEvent;
    this.#serverId = str(frame.payload, "server_id", 256) ?? frame.from;
    const claimed = await importPublic(str(frame.payload, "server_pub"));
    // Pin the server's key from its first answer, and check this ACK with it (§15 P7).
    if (claimed.ok && await verifyPayload(claimed.key, frame.payload, frame.sig)) {
      this.#serverKey = claimed.key;
      const pin = await this.options.memory.serverPin(this.options.url);
      if (pin?.spki && pin.spki !== claimed.key.spki) {
        emit({
          kind: "warning",
          message:
            `The server's key changed since your last visit (was ${pin.fingerprint}, now ${claimed.key.fingerprint}). ` +
            "If the operator did not replace it, someone may be impersonating the server.",
        });
      }
      // A learned layout is kept only while the server keeps its key.
      const learned = pin?.spki === claimed.key.spki ? pin.content_sig : undefined;
      this.#layout = initialLayout(this.#setting, isLayout(learned) ? learned : undefined);
      await this.options.memory.saveServerPin({
        url: this.options.url,
        server_id: this.#serverId,
        spki: claimed.key.spki,
        fingerprint: claimed.key.fingerprint,
        ...(isLayout(learned) ? { content_sig: learned } : {}),
      });
    } else if (!this.#serverKey) {
      emit({
        kind: "warning",
        message: "The server did not prove its key; its frames are not verified.",
      });
    }
    this.#online("ack");
  }

  /** A DM through this server verified under `layout`: sign ours that way from now on. */
  async #learnLayout(layout: Layout | undefined, sender: string): Promise<void> {
    if (layout !== undefined) this.#peerLayouts.set(sender, layout);
    const next = learnLayout(this.#setting, this.#layout, layout);
    if (next === this.#layout) return;
    this.#layout = next;
    await this.options.memory.saveServerPin({
      url: this.options.url,
      server_id: this.#serverId,
      spki: this.#serverKey?.spki ?? "",
      fingerprint: this.#serverKey?.fingerprint ?? "",
      content_sig: next,
    });
    if (this.connection.state === "online") {
      this.#setConnection({ ...this.connection, content_sig: describeLayout(this.#setting, next) });
    }
  }

  async #learn(
    user_id: string | undefined,
    server_id: string,
    pubkey: string | undefined,
    display_name: string | undefined,
  ): Promise<void> {
    if (!isId(user_id) || user_id === this.options.user_id || pubkey === undefined) return;
    const before = this.contacts.get(user_id);
    const imported = before?.key.spki === pubkey
      ? { ok: true as const, key: before.key }
      : await importPublic(pubkey);
    if (!imported.ok) {
      return this.options.onEvent({
        kind: "warning",
        message: `ignored user ${user_id}: ${imported.reason}`,
      });
    }
    const key = imported.key;
    const contact: Contact = {
      user_id,
      key,
      server_id,
      online: true,
      display_name: display_name ?? before?.display_name,
    };
    if (contact.display_name === undefined) delete contact.display_name;
    const memory = this.options.memory;
    const known = await memory.knownKey(user_id);
    const label = display_name ?? before?.display_name ?? user_id;
    if (!known) {
      await memory.saveKnownKey({
        user_id,
        spki: key.spki,
        fingerprint: key.fingerprint,
        label,
        first_seen: Date.now(),
      });
    } else if (known.spki !== key.spki) {
      contact.keyChanged = { previous: known.fingerprint, current: key.fingerprint };
      if (known.changed?.spki !== key.spki) {
        await memory.saveKnownKey({
          ...known,
          label,
          changed: { spki: key.spki, fingerprint: key.fingerprint, at: Date.now() },
        });
      }
    } else if (known.changed || known.label !== label) {
      const { changed: _, ...rest } = known;
      await memory.saveKnownKey({ ...rest, label });
    }
    this.contacts.set(user_id, contact);
    // Told once per session and key, also when the warning is remembered from an earlier visit.
    if (contact.keyChanged && before?.key.spki !== key.spki) {
      this.options.onEvent({ kind: "key_changed", user_id, ...contact.keyChanged });
    }
    this.options.onEvent({ kind: "contacts" });
  }

  /**
   * The key to check a message from `sender` with: the directory's key. A message whose
   * `sender_pub` is another key is not verified; a sender outside the directory is checked with
   * the key it sent, and says so.
   */
  async #senderKey(
    sender: string,
    claimedText: string | undefined,
  ): Promise<{ key?: PublicKey; note?: string }> {
    const known = this.contacts.get(sender);
    const claimed = claimedText === undefined ? undefined : await importPublic(claimedText);
    if (known && claimed?.ok && claimed.key.spki !== known.key.spki) {
      return { note: "it was signed with a key that is not this user's key in the directory" };
    }
    if (known?.keyChanged) {
      return { key: known.key, note: "their key changed and is not confirmed" };
    }
    if (known) return { key: known.key };
    if (claimed?.ok) return { key: claimed.key, note: "the sender is not in the directory" };
    return { note: "the sender's key is unknown" };
  }

  /** Verification outcome in words for the page. */
  #verdict(key: PublicKey | undefined, good: boolean, note: string | undefined) {
    if (key === undefined) return { verified: false, note };
    return good
      ? { verified: true, note }
      : { verified: false, note: "the signature does not match the message" };
  }

  /** Tells the server we received a frame, so a queued copy is retired and the sender told. */
  #ack(sender: string, ts: number, type: string): string {
    const ref = `${sender}|${this.options.user_id}|${ts}`;
    try {
      this.#sendRaw("ACK", this.#serverId || "server", { msg_ref: ref, type }, this.#nextTs(), "");
    } catch { /* offline: the server re-sends what was queued, and we confirm it then */ }
    return ref;
  }

  /** Confirms a message; true when it was shown before (de-duplication by reference). */
  #confirm(sender: string, ts: number, type: string): boolean {
    const ref = this.#ack(sender, ts, type);
    if (this.#seenRefs.has(ref)) return true;
    this.#seenRefs.add(ref);
    if (this.#seenRefs.size > 10_000) this.#seenRefs.delete(this.#seenRefs.values().next().value!);
    return false;
  }

  async #onDeliver(frame: Frame): Promise<void> {
    const p = frame.payload;
    const ciphertext = str(p, "ciphertext", 2048) ?? "";
    const sender = str(p, "sender", 256) ?? "";
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && await decrypt(this.options.pair, bytes);
    if (!plain) {
      return this.options.onEvent({
        kind: "warning",
        message: `a message from ${this.label(sender)} could not be decrypted`,
      });
    }
    // The original ts is in the envelope (§15 P6); some servers put it in the payload.
    const ts = frame.ts;
    if (this.#confirm(sender, ts, frame.type)) return; // A re-send we already showed.
    const { key, note } = await this.#senderKey(sender, str(p, "sender_pub"));
    const layout = key === undefined ? undefined : await verifyDm(key, {
      ciphertext,
      from: sender,
      to: this.options.user_id,
      ts,
    }, p.content_sig);
    const good = layout !== undefined;
    // Only a key the directory vouches for teaches a layout.
    if (note === undefined) await this.#learnLayout(layout, sender);
    this.options.onEvent({
      kind: "dm",
      from: sender,
      to: this.options.user_id,
      text: new TextDecoder().decode(plain),
      ts,
      ...this.#verdict(key, good, note),
    });
  }

  async #onPublic(frame: Frame): Promise<void> {
    const p = frame.payload;
    const ciphertext = str(p, "ciphertext", 2048) ?? "";
    // Servers that re-wrap the frame put the sender and original ts in the payload (§3.7.4 DF).
    const sender = str(p, "sender", 256) ?? frame.from;
    const ts = typeof p.ts === "number" ? p.ts : frame.ts;
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && await decrypt(this.options.pair, bytes);
    if (!plain) return; // Another member's copy.
    if (this.#confirm(sender, ts, frame.type)) return; // A re-send we already showed.
    const { key, note } = await this.#senderKey(sender, str(p, "sender_pub"));
    const good = key !== undefined &&
      await verifyPublic(key, { ciphertext, from: sender, ts }, p.content_sig) !== undefined;
    this.options.onEvent({
      kind: "public",
      from: sender,
      text: new TextDecoder().decode(plain),
      ts,
      ...this.#verdict(key, good, note),
    });
  }
}
