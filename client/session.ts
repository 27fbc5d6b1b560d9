/**
 * A chat client's session with its server: says hello, keeps a directory of users (from
 * USER_ADVERTISE / USER_REMOVE / LIST_RESPONSE), encrypts and signs outgoing DMs, decrypts and
 * verifies incoming ones. All crypto happens here; the server never sees plaintext.
 * @module
 */
import WebSocket from "ws";
import type { PrivateKey, PublicKey, RsaBackend } from "../crypto/types.ts";
import {
  signDm,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyPayload,
  verifyPublic,
} from "../crypto/signing.ts";
import {
  b64uDecode,
  b64uEncode,
  type Frame,
  parseFrame,
  USER_FRAME_BYTES_MAX,
} from "../protocol/mod.ts";
import { HELLO_QUIET_MS, PEER_LAYOUTS_MAX } from "../protocol/limits.ts";
import { checkChallenge, SignedChallenges } from "../protocol/auth_challenge.ts";
import { SERVER_TO_USER_TYPES } from "../protocol/server_frames.ts";
import {
  describeLayout,
  initialLayout,
  type Layout,
  layoutFor,
  type LayoutSetting,
  learnLayout,
} from "../protocol/content_sig_layout.ts";
import { LruMap } from "../lib/lru.ts";
import type { Clock, Random } from "../lib/world.ts";
import { idNotes, NO_TRACE, type Tracer, withNotes } from "./trace.ts";
import { splitUtf8 } from "../protocol/text.ts";
import { type FileEvent, FileReceiver } from "./file_receiver.ts";
import { readOutgoing, sendFile } from "./file_sender.ts";
import type { Contact } from "./contact.ts";

import { fingerprint, KnownKeys } from "./known_keys.ts";
import type { LoginRegistration } from "./login.ts";
import { authMessage } from "../protocol/auth_message.ts";
import { messageRef } from "../protocol/message_ref.ts";

/** Something the user should see. */
export type ClientEvent =
  | {
    event: "ready";
    user_id: string;
    server_id: string;
    server_pub: string;
    /** `ack`: the server answered USER_HELLO; `quiet`: no answer and no ERROR (spec: none defined). */
    hello: "ack" | "quiet";
    quiet_ms: number;
    /** The layout DMs through this server are signed with, and how it was chosen. */
    content_sig: string;
  }
  | { event: "content_sig"; layout: string; learned_from: string }
  | { event: "dm"; from: string; label: string; text: string; verified: boolean; ts: number }
  | { event: "public"; from: string; label: string; text: string; verified: boolean; ts: number }
  | { event: "channel_key"; creator: string; verified: boolean }
  | {
    event: "whois";
    user_id: string;
    label: string;
    fingerprint: string;
    server_id: string;
    online: boolean;
    authority: string;
    matches_advertised: boolean;
    matches_pin: boolean;
    content_sig: string;
  }
  | { event: "login_registered" }
  | { event: "delivery"; msg_ref: string; status: string; detail: string }
  | { event: "file_sent"; file_id: string; name: string; to: string; recipients: number }
  | FileEvent
  | { event: "list"; users: { user_id: string; label: string; server_id: string }[] }
  | { event: "online"; user_id: string; label: string }
  | { event: "offline"; user_id: string; label: string }
  | { event: "sent"; to: string; label: string; parts: number; msg_refs?: string[] }
  | { event: "error"; code: string; detail: string }
  | { event: "warning"; message: string }
  | { event: "closed"; code: number; reason: string };

/**
 * The text a trace keeps of an outbound frame: LOGIN_REGISTER carries our encrypted key and a
 * password verifier (which allows offline guessing), so its payload is left out.
 */
function traceable(frame: { type: string; payload: object }, text: string): string {
  if (frame.type !== "LOGIN_REGISTER") return text;
  return JSON.stringify({ ...frame, payload: { redacted: "encrypted key and password verifier" } });
}

/** What a session needs. */
export interface SessionOptions {
  url: string;
  user_id: string;
  key: PrivateKey;
  backend: RsaBackend;
  clock: Clock;
  random: Random;
  /** Where received files are saved. */
  downloads: string;
  display_name?: string;
  onEvent: (event: ClientEvent) => void;
  /** Pins of server and user keys (trust on first use). */
  known?: KnownKeys;
  /** Builds a password-login registration, sent once if the server offers login and has none. */
  registration?: () => Promise<LoginRegistration>;
  /** Quiet milliseconds after USER_HELLO (no answer, no ERROR) after which we count as connected. */
  helloQuietMs?: number;
  /** content_sig layout for DMs: one of A-D, or learned per server (default). */
  contentSig?: LayoutSetting;
  /** Challenges this client signed before (shared by its sessions, so a replay is refused). */
  challenges?: SignedChallenges;
  /** Where every frame, both ways, is reported with this client's verdict (`--trace`). */
  tracer?: Tracer;
}

/** One connected client. */
export class ChatSession {
  readonly contacts = new Map<string, Contact>();
  server_id = "";
  #server_key?: PublicKey;
  #socket: WebSocket;
  #lastTs = 0;
  #listWaiters: ((users: string[]) => void)[] = [];
  #whoisWaiters = new Map<string, (payload: Record<string, unknown> | undefined) => void>();
  #known!: KnownKeys;
  #seenRefs = new Set<string>();
  #inbox: Promise<void> = Promise.resolve();
  #files: FileReceiver;
  #ready = false;
  #layout: Layout = "A";
  #peerLayouts = new LruMap<string, Layout>(PEER_LAYOUTS_MAX);
  /** What handling the current inbound frame found out, for its trace line. */
  #notes: string[] = [];
  /** Set while handling a frame that this client refuses (its trace verdict is "dropped"). */
  #refused = false;
  #quietTimer?: ReturnType<Clock["setTimeout"]>;

  private constructor(private readonly options: SessionOptions, socket: WebSocket) {
    this.#socket = socket;
    this.#files = new FileReceiver({
      backend: options.backend,
      key: options.key,
      clock: options.clock,
      downloads: options.downloads,
      keyOf: (user) => Promise.resolve(this.contacts.get(user)?.key),
      emit: options.onEvent,
    });
  }

  /**
   * Connects and says hello. Resolves when the server acknowledged it, or, since the spec
   * defines no reply, once the socket stayed open with no ERROR for a quiet period.
   */
  static async connect(options: SessionOptions): Promise<ChatSession> {
    const socket = new WebSocket(options.url, { maxPayload: USER_FRAME_BYTES_MAX * 4 });
    const session = new ChatSession(options, socket);
    session.#known = options.known ?? (await KnownKeys.load(undefined));
    await session.#usePin();
    const ready = Promise.withResolvers<void>();
    // Awaited only once the socket opened: a failure before that is reported by the open.
    ready.promise.catch(() => {});
    socket.on(
      "error",
      (e) => ready.reject(new Error(`Cannot connect to ${options.url}: ${e.message}`)),
    );
    socket.on("close", (code, reason) => {
      session.#stopQuiet();
      ready.reject(new Error(`Connection closed (${code}) ${reason.toString()}`));
      options.onEvent({ event: "closed", code, reason: reason.toString() });
    });
    socket.on("message", (data) => {
      // Frames are handled strictly in arrival order, each after the previous one's crypto.
      session.#inbox = session.#inbox.then(() => session.#receive(data.toString(), ready));
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once(
        "error",
        (e) => reject(new Error(`Cannot connect to ${options.url}: ${e.message}`)),
      );
    });
    const payload: Record<string, unknown> = {
      client: "socp-deno-cli/0.1",
      pubkey: options.key.publicKey.spki,
      enc_pubkey: options.key.publicKey.spki,
      // We confirm what we receive and understand receipts (reliable delivery, our extension).
      features: ["receipts"],
    };
    if (options.display_name) payload.meta = { display_name: options.display_name };
    await session.#send("USER_HELLO", "server", payload);
    session.#waitQuietly(ready);
    try {
      await ready.promise;
    } finally {
      session.#stopQuiet();
    }
    return session;
  }

  /** The layout DMs through this server are signed with, as the status line names it. */
  get contentSig(): string {
    return describeLayout(this.options.contentSig ?? "auto", this.#layout);
  }

  /** The server key pinned for this URL verifies its frames until (unless) it answers hello. */
  async #usePin(): Promise<void> {
    const pinned = this.#known.data.servers[this.options.url];
    const imported = pinned === undefined
      ? undefined
      : await this.options.backend.importPublic(pinned);
    if (imported?.ok) this.#server_key = imported.key;
    this.#chooseLayout();
  }

  #chooseLayout(): void {
    this.#layout = initialLayout(
      this.options.contentSig ?? "auto",
      this.#known.layout(this.options.url, this.#server_key?.spki ?? ""),
    );
  }

  /** (Re)starts the quiet period after USER_HELLO (and after answering a challenge). */
  #waitQuietly(ready: PromiseWithResolvers<void>): void {
    this.#stopQuiet();
    this.#quietTimer = this.options.clock.setTimeout(
      () => this.#nowReady("quiet", ready),
      this.options.helloQuietMs ?? HELLO_QUIET_MS,
    );
  }

  #stopQuiet(): void {
    if (this.#quietTimer !== undefined) this.options.clock.clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
  }

  #nowReady(hello: "ack" | "quiet", ready: PromiseWithResolvers<void>): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#stopQuiet();
    this.options.onEvent({
      event: "ready",
      user_id: this.options.user_id,
      server_id: this.server_id,
      server_pub: this.#server_key?.spki ?? "",
      hello,
      quiet_ms: this.options.helloQuietMs ?? HELLO_QUIET_MS,
      content_sig: this.contentSig,
    });
    ready.resolve();
  }

  /** The label of a user: display name if known, else the id (§6.4). */
  label(user_id: string): string {
    return this.contacts.get(user_id)?.display_name ?? user_id;
  }

  /** Finds a user by id or display name; throws a clear error if none or several match. */
  resolve(target: string): Contact {
    const exact = this.contacts.get(target);
    if (exact) return exact;
    const named = [...this.contacts.values()].filter((c) => c.display_name === target);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) {
      throw new Error(
        `"${target}" is ambiguous: ${named.map((c) => c.user_id).join(", ")}; use the id`,
      );
    }
    throw new Error(`Unknown user "${target}": try /list`);
  }

  /** Asks the server for the online list (sorted by the server). */
  async list(): Promise<{ user_id: string; label: string; server_id: string }[]> {
    const answer = new Promise<string[]>((resolve) => this.#listWaiters.push(resolve));
    await this.#send("LIST_REQUEST", this.server_id, {});
    const ids = await answer;
    return ids.map((user_id) => ({
      user_id,
      label: this.label(user_id),
      server_id: this.contacts.get(user_id)?.server_id ?? "",
    }));
  }

  /** Sends `text` to `target` as one or more DMs, in order. Returns the number of parts. */
  async tell(target: string, text: string): Promise<{ to: Contact; refs: string[] }> {
    const contact = await this.lookup(target);
    const pieces = splitUtf8(text);
    const refs: string[] = [];
    for (const piece of pieces) {
      const ts = this.#nextTs();
      refs.push(messageRef(this.options.user_id, contact.user_id, ts));
      const ciphertext = b64uEncode(await this.options.backend.encrypt(contact.key, piece));
      const content_sig = await signDm(this.options.backend, this.options.key, {
        ciphertext,
        from: this.options.user_id,
        to: contact.user_id,
        ts,
      }, this.#layoutTo(contact.user_id));
      await this.#send("MSG_DIRECT", contact.user_id, {
        ciphertext,
        sender_pub: this.options.key.publicKey.spki,
        content_sig,
      }, ts);
    }
    return { to: contact, refs };
  }

  /**
   * A user to write to: someone online (by id or display name), or, by id, someone offline the
   * server's directory knows (their messages wait on their server).
   */
  async lookup(target: string): Promise<Contact> {
    try {
      return this.resolve(target);
    } catch (e) {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(target)) throw e;
      const answer = new Promise<Record<string, unknown> | undefined>((resolve) =>
        this.#whoisWaiters.set(target, resolve)
      );
      await this.#send("PUBKEY_REQUEST", this.server_id, { user_id: target });
      const payload = await answer;
      this.#whoisWaiters.delete(target);
      const imported = payload && (await this.options.backend.importPublic(String(payload.pubkey)));
      if (!imported?.ok) {
        throw new Error(`Unknown user "${target}": not online and not in the directory`);
      }
      const contact: Contact = {
        user_id: target,
        key: imported.key,
        server_id: String(payload!.server_id),
      };
      if (typeof payload!.display_name === "string") contact.display_name = payload!.display_name;
      return contact;
    }
  }

  /** Asks the server's directory for a user's key and compares it with what we know. */
  async whois(target: string): Promise<Extract<ClientEvent, { event: "whois" }>> {
    const user_id = this.contacts.get(target)?.user_id ??
      [...this.contacts.values()].find((c) => c.display_name === target)?.user_id ?? target;
    const answer = new Promise<Record<string, unknown> | undefined>((resolve) =>
      this.#whoisWaiters.set(user_id, resolve)
    );
    await this.#send("PUBKEY_REQUEST", this.server_id, { user_id });
    const payload = await answer;
    this.#whoisWaiters.delete(user_id);
    if (!payload) throw new Error(`The directory knows no key for "${target}"`);
    const imported = await this.options.backend.importPublic(String(payload.pubkey));
    if (!imported.ok) {
      throw new Error(`The directory's key for "${target}" is unusable: ${imported.reason}`);
    }
    const spki = imported.key.spki;
    const pinned = this.#known.pinnedUser(user_id);
    return {
      event: "whois",
      user_id,
      label: this.label(user_id),
      fingerprint: fingerprint(spki),
      server_id: String(payload.server_id),
      online: payload.online === true,
      authority: String(payload.authority ?? ""),
      matches_advertised: this.contacts.get(user_id)?.key.spki === spki,
      matches_pin: pinned === undefined || pinned === spki,
      content_sig: this.contentSig,
    };
  }

  /** Sends `text` to every other user of the public channel, encrypted for each (§15 P11). */
  async all(text: string): Promise<number> {
    const members = [...this.contacts.values()].filter((c) => c.user_id !== this.options.user_id);
    const pieces = splitUtf8(text);
    for (const piece of pieces) {
      for (const member of members) {
        const ts = this.#nextTs();
        const ciphertext = b64uEncode(await this.options.backend.encrypt(member.key, piece));
        const content_sig = await signPublic(this.options.backend, this.options.key, {
          ciphertext,
          from: this.options.user_id,
          ts,
        });
        await this.#send(
          "MSG_PUBLIC_CHANNEL",
          member.user_id,
          { ciphertext, sender_pub: this.options.key.publicKey.spki, content_sig },
          ts,
          false,
        );
      }
    }
    return members.length;
  }

  /** Sends the file at `path` to `target` (an id, a display name, or "all"). */
  async sendFile(
    target: string,
    path: string,
  ): Promise<{ file_id: string; recipients: Contact[] }> {
    const recipients = target === "all"
      ? [...this.contacts.values()].filter((c) => c.user_id !== this.options.user_id)
      : [this.resolve(target)];
    if (recipients.length === 0) throw new Error("Nobody else is online");
    const data = await readOutgoing(path);
    const file_id = await sendFile(
      {
        backend: this.options.backend,
        key: this.options.key,
        user_id: this.options.user_id,
        clock: this.options.clock,
        random: this.options.random,
        send: (type, to, payload, ts, sign) => this.#send(type, to, payload, ts, sign),
        sync: () => this.#sync(),
        nextTs: () => this.#nextTs(),
        progress: (p) => this.options.onEvent({ event: "progress", ...p }),
      },
      recipients,
      path,
      data,
      target === "all" ? "public" : "dm",
    );
    return { file_id, recipients };
  }

  /** Waits until the server has handled what we sent (a LIST round trip), at most 10 s. */
  async #sync(): Promise<void> {
    let timer: ReturnType<Clock["setTimeout"]> | undefined;
    await Promise.race([
      this.list().then(() => {}),
      new Promise<void>((resolve) => timer = this.options.clock.setTimeout(resolve, 10_000)),
    ]);
    if (timer !== undefined) this.options.clock.clearTimeout(timer);
  }

  /** Says goodbye (CTRL_CLOSE) and closes with 1000. */
  async close(): Promise<void> {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    const closed = new Promise<void>((resolve) => this.#socket.once("close", () => resolve()));
    this.#transmit({
      type: "CTRL_CLOSE",
      from: this.options.user_id,
      to: this.server_id || "server",
      ts: this.#nextTs(),
      payload: {},
      sig: "",
    });
    this.#socket.close(1000, "bye");
    await closed;
    this.tracer.close();
  }

  #nextTs(): number {
    // Strictly increasing, so a multi-part message keeps its order at every hop.
    this.#lastTs = Math.max(this.options.clock.now(), this.#lastTs + 1);
    return this.#lastTs;
  }

  async #send(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts = this.#nextTs(),
    sign = true,
  ): Promise<void> {
    const sig = sign ? await signPayload(this.options.backend, this.options.key, payload) : "";
    this.#transmit({ type, from: this.options.user_id, to, ts, payload, sig });
  }

  /** The trace this session reports to. */
  get tracer(): Tracer {
    return this.options.tracer ?? NO_TRACE;
  }

  #transmit(frame: Record<string, unknown> & { type: string; payload: object }): void {
    const text = JSON.stringify(frame);
    this.#socket.send(text);
    const how = frame.type === "MSG_DIRECT"
      ? `content_sig layout ${this.#layoutTo(String(frame.to))}`
      : "";
    this.tracer.frame("out", traceable(frame, text), "accepted", withNotes(how, idNotes(frame)));
  }

  async #receive(text: string, ready: PromiseWithResolvers<void>): Promise<void> {
    const parsed = parseFrame(text, USER_FRAME_BYTES_MAX * 4);
    if (!parsed.ok) {
      this.tracer.frame("in", text, "dropped", `bad frame: ${parsed.detail}`);
      return this.options.onEvent({
        event: "warning",
        message: `server sent a bad frame: ${parsed.detail}`,
      });
    }
    const frame = parsed.frame;
    const ids = idNotes(frame);
    this.#notes = [];
    this.#refused = false;
    if (!(await this.#fromServerOk(frame))) {
      this.tracer.frame(
        "in",
        text,
        "dropped",
        withNotes("server signature does not verify with the pinned server key", ids),
      );
      return this.options.onEvent({
        event: "warning",
        message: `dropped a ${frame.type} whose server signature does not verify`,
      });
    }
    try {
      await this.#handle(frame, ready);
      const verdict = this.#refused ? "dropped" : "accepted";
      this.tracer.frame("in", text, verdict, withNotes(this.#notes.join("; "), ids));
    } catch (e) {
      const message = `could not handle ${frame.type}: ${(e as Error).message}`;
      this.tracer.frame("in", text, "dropped", withNotes(message, ids));
      this.options.onEvent({ event: "warning", message });
    }
  }

  /**
   * Whether a frame passes the server-signature check. With a server key (from its ACK, or
   * pinned earlier for this URL) every frame from the server must verify. A server that never
   * answered hello is known by the first frame that verifies with the pinned key; before that,
   * a server frame that does not verify is dropped. With no key at all (a server that never
   * proved one) frames pass unverified, as the status line says.
   */
  async #fromServerOk(frame: Frame): Promise<boolean> {
    const key = this.#server_key;
    if (!key) {
      if (!this.server_id && SERVER_TO_USER_TYPES.has(frame.type)) this.server_id = frame.from;
      return true;
    }
    if (this.server_id) {
      return frame.from !== this.server_id ||
        await verifyPayload(this.options.backend, key, frame.payload, frame.sig);
    }
    // A hello ACK that brings its own key is checked with it (and compared with the pin) when
    // handled; one without a key must verify with the pin like any other frame.
    if (
      frame.type === "ACK" && frame.payload.msg_ref === "USER_HELLO" &&
      typeof frame.payload.server_pub === "string"
    ) return true;
    if (await verifyPayload(this.options.backend, key, frame.payload, frame.sig)) {
      this.server_id = frame.from;
      this.#notes.push(`server id ${frame.from} learned from a frame signed by the pinned key`);
      return true;
    }
    return !SERVER_TO_USER_TYPES.has(frame.type);
  }

  async #handle(frame: Frame, ready: PromiseWithResolvers<void>): Promise<void> {
    const emit = this.options.onEvent;
    switch (frame.type) {
      case "ACK":
        if (frame.payload.msg_ref === "USER_HELLO") {
          await this.#acknowledged(frame, ready);
        } else if (frame.payload.msg_ref === "LOGIN_REGISTER") emit({ event: "login_registered" });
        else if (typeof frame.payload.status === "string") {
          emit({
            event: "delivery",
            msg_ref: frame.payload.msg_ref,
            status: frame.payload.status,
            detail: String(frame.payload.detail ?? ""),
          });
        }
        return;
      case "MSG_RECEIPT":
        emit({
          event: "delivery",
          msg_ref: frame.payload.msg_ref,
          status: frame.payload.status,
          detail: "",
        });
        return;
      case "AUTH_CHALLENGE": {
        const refusal = await this.#answerChallenge(frame);
        if (this.#ready) return;
        if (refusal === undefined) return this.#waitQuietly(ready); // An ERROR may follow.
        // Unproven, the server would count us connected and we would count on it: stop here.
        this.#stopQuiet();
        ready.reject(new Error(`Refused the server's AUTH_CHALLENGE: ${refusal}`));
        this.#socket.close(4000, "auth challenge refused");
        return;
      }
      case "PUBKEY_RESPONSE":
        this.#whoisWaiters.get(frame.payload.user_id)?.(frame.payload as Record<string, unknown>);
        return;
      case "ERROR":
        for (const [user, waiter] of this.#whoisWaiters) {
          if (frame.payload.detail?.includes(user)) waiter(undefined);
        }
        emit({ event: "error", code: frame.payload.code, detail: frame.payload.detail ?? "" });
        if (!this.#ready) {
          this.#stopQuiet();
          this.#notes.push("an ERROR before the hello was accepted: not connected");
          ready.reject(new Error(`${frame.payload.code}: ${frame.payload.detail ?? ""}`));
        }
        return;
      case "USER_ADVERTISE":
        return await this.#learn(
          frame.payload.user_id,
          frame.payload.server_id,
          frame.payload.pubkey ?? (frame.payload.meta as { pubkey?: string } | undefined)?.pubkey,
          frame.payload.meta?.display_name,
        );
      case "USER_REMOVE": {
        const known = this.contacts.get(frame.payload.user_id);
        if (known && known.server_id === frame.payload.server_id) {
          this.contacts.delete(frame.payload.user_id);
          emit({
            event: "offline",
            user_id: known.user_id,
            label: known.display_name ?? known.user_id,
          });
        }
        return;
      }
      case "LIST_RESPONSE": {
        const entries = Array.isArray(frame.payload.entries)
          ? frame.payload.entries as Record<string, unknown>[]
          : [];
        for (const e of entries) {
          if (typeof e.user_id === "string" && typeof e.pubkey === "string") {
            await this.#learn(
              e.user_id,
              String(e.server_id ?? ""),
              e.pubkey,
              typeof e.display_name === "string" ? e.display_name : undefined,
            );
          }
        }
        const ids = frame.payload.users.map((u) => typeof u === "string" ? u : u.user_id);
        for (const w of this.#listWaiters.splice(0)) w(ids);
        return;
      }
      case "USER_DELIVER":
        return await this.#onDeliver(frame);
      case "MSG_PUBLIC_CHANNEL":
        return await this.#onPublic(frame);
      case "PUBLIC_CHANNEL_KEY_SHARE":
        return await this.#onKeyShare(frame);
      case "FILE_START":
        this.#ack(frame.from, frame.ts, frame.type);
        return await this.#files.start(frame);
      case "FILE_CHUNK":
        this.#ack(frame.from, frame.ts, frame.type);
        return this.#files.chunk(frame);
      case "FILE_END":
        this.#ack(frame.from, frame.ts, frame.type);
        return await this.#files.end(frame);
      default:
        return;
    }
  }

  /** The server's answer to USER_HELLO: pin its key from it (§15 P7) and check the ACK with it. */
  async #acknowledged(
    frame: Extract<Frame, { type: "ACK" }>,
    ready: PromiseWithResolvers<void>,
  ): Promise<void> {
    const emit = this.options.onEvent;
    this.server_id = String(frame.payload.server_id ?? frame.from);
    const pub = typeof frame.payload.server_pub === "string"
      ? await this.options.backend.importPublic(frame.payload.server_pub)
      : undefined;
    if (pub?.ok && (await verifyPayload(this.options.backend, pub.key, frame.payload, frame.sig))) {
      this.#server_key = pub.key;
      this.#notes.push("hello acknowledged; server key proven by this ACK");
    } else if (!this.#server_key) {
      emit({
        event: "warning",
        message: "server did not prove its key; its frames are not verified",
      });
    }
    if (
      this.#server_key &&
      (await this.#known.server(this.options.url, this.#server_key.spki)) === "changed"
    ) {
      emit({
        event: "warning",
        message: `SERVER KEY CHANGED for ${this.options.url}: pinned ${
          fingerprint(this.#known.data.servers[this.options.url]!)
        }, now ${fingerprint(this.#server_key.spki)}. Someone may be impersonating the server.`,
      });
    }
    this.#chooseLayout();
    this.#nowReady("ack", ready);
    const features = Array.isArray(frame.payload.features) ? frame.payload.features : [];
    if (
      features.includes("login") && frame.payload.login_registered === false &&
      this.options.registration
    ) {
      const registration = await this.options.registration();
      await this.#send("LOGIN_REGISTER", this.server_id, { ...registration });
    }
  }

  /**
   * Proves we hold our key. Our servers send `{nonce}`: the proof is bound to the server, the
   * user and the nonce (§15 P15). A dialect sends `{challenge}` and wants PSS over its raw
   * bytes, answered with AUTH_PROOF; signed only when it cannot stand for another signature
   * of this key and was never signed before (protocol/auth_challenge.ts).
   */
  async #answerChallenge(
    frame: Extract<Frame, { type: "AUTH_CHALLENGE" }>,
  ): Promise<string | undefined> {
    const { nonce, challenge } = frame.payload;
    if (nonce !== undefined) {
      const message = authMessage(frame.from, this.options.user_id, nonce);
      const signature = b64uEncode(await this.options.backend.sign(this.options.key, message));
      await this.#send("AUTH_RESPONSE", frame.from, { nonce, signature });
      return undefined;
    }
    const checked = checkChallenge(challenge);
    const refusal = !checked.ok
      ? checked.reason
      : !(this.options.challenges ??= new SignedChallenges()).fresh(challenge!)
      ? "this challenge was signed before: a server must send a fresh one"
      : undefined;
    if (refusal !== undefined || !checked.ok) {
      this.#notes.push(`AUTH_CHALLENGE {challenge} refused: ${refusal}`);
      this.#refused = true;
      this.options.onEvent({
        event: "error",
        code: "CLIENT",
        detail: `refused to sign the server's AUTH_CHALLENGE: ${refusal}`,
      });
      return refusal ?? "unusable challenge";
    }
    const signature = b64uEncode(await this.options.backend.sign(this.options.key, checked.bytes));
    this.#notes.push(`AUTH_CHALLENGE {challenge}: ${checked.bytes.length} bytes signed`);
    await this.#send("AUTH_PROOF", frame.from, { challenge: challenge!, signature });
    return undefined;
  }

  async #learn(
    user_id: string,
    server_id: string,
    pubkey: string | undefined,
    display_name: string | undefined,
  ): Promise<void> {
    if (pubkey === undefined) return;
    const imported = await this.options.backend.importPublic(pubkey);
    if (!imported.ok) {
      return this.options.onEvent({
        event: "warning",
        message: `ignored user ${user_id}: ${imported.reason}`,
      });
    }
    const before = this.contacts.get(user_id);
    const pin = await this.#known.user(user_id, imported.key.spki);
    if (pin === "changed" || (before && before.key.spki !== imported.key.spki)) {
      const old = this.#known.pinnedUser(user_id) ?? before!.key.spki;
      this.options.onEvent({
        event: "warning",
        message: `KEY CHANGED for ${display_name ?? before?.display_name ?? user_id}: was ${
          fingerprint(old)
        }, now ${fingerprint(imported.key.spki)}. Check with them before trusting it (/whois).`,
      });
    }
    const contact: Contact = { user_id, key: imported.key, server_id };
    if (display_name !== undefined) contact.display_name = display_name;
    this.contacts.set(user_id, contact);
    if (!before && user_id !== this.options.user_id) {
      this.options.onEvent({ event: "online", user_id, label: display_name ?? user_id });
    }
  }

  async #onPublic(frame: Extract<Frame, { type: "MSG_PUBLIC_CHANNEL" }>): Promise<void> {
    const { ciphertext, content_sig } = frame.payload;
    // Servers that re-wrap the frame put the sender and original ts in the payload (§3.7.4 DF).
    const p = frame.payload as Record<string, unknown>;
    const sender = typeof p.sender === "string" ? p.sender : frame.from;
    const ts = typeof p.ts === "number" ? p.ts : frame.ts;
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && (await this.options.backend.decrypt(this.options.key, bytes));
    if (!plain) return; // Not encrypted for us: another member's copy.
    if (this.#confirm(sender, ts, frame.type)) return; // Seen before: a re-send.
    const known = this.contacts.get(sender);
    const claimed = frame.payload.sender_pub
      ? await this.options.backend.importPublic(frame.payload.sender_pub)
      : undefined;
    const key = known?.key ?? (claimed?.ok ? claimed.key : undefined);
    const keyMatches = !known || !claimed || (claimed.ok && claimed.key.spki === known.key.spki);
    const verified = key !== undefined && keyMatches && content_sig !== undefined &&
      (await verifyPublic(
          this.options.backend,
          key,
          { ciphertext, from: sender, ts },
          content_sig,
        )) !== undefined;
    this.options.onEvent({
      event: "public",
      from: sender,
      label: this.label(sender),
      text: new TextDecoder().decode(plain),
      verified,
      ts,
    });
  }

  async #onKeyShare(frame: Extract<Frame, { type: "PUBLIC_CHANNEL_KEY_SHARE" }>): Promise<void> {
    const { shares, creator_pub, content_sig } = frame.payload;
    const mine = shares.find((s) => s.member === this.options.user_id);
    if (!mine) return;
    const creator = await this.options.backend.importPublic(creator_pub);
    const signed = creator.ok &&
      (await verifyKeyShare(
          this.options.backend,
          creator.key,
          shares,
          creator_pub,
          content_sig,
        )) !== undefined;
    const wrapped = b64uDecode(mine.wrapped_public_channel_key);
    const groupKey = wrapped && (await this.options.backend.decrypt(this.options.key, wrapped));
    // The key is not used for messages (per-recipient RSA); it is checked and dropped.
    const verified = signed && groupKey?.length === 32;
    groupKey?.fill(0);
    this.options.onEvent({ event: "channel_key", creator: frame.from, verified });
  }

  /**
   * Confirms a received message to the server (so a queued copy is retired and the sender gets a
   * receipt). Returns true when we had it already, so it is not shown twice.
   */
  #confirm(sender: string, ts: number, type: string): boolean {
    const ref = this.#ack(sender, ts, type);
    if (this.#seenRefs.has(ref)) return true;
    this.#seenRefs.add(ref);
    if (this.#seenRefs.size > 10_000) this.#seenRefs.delete(this.#seenRefs.values().next().value!);
    return false;
  }

  /** Tells the server we received a frame (our extension; harmless elsewhere). */
  #ack(sender: string, ts: number, type: string): string {
    const ref = messageRef(sender, this.options.user_id, ts);
    void this.#send("ACK", this.server_id, { msg_ref: ref, type }, undefined, false);
    return ref;
  }

  /** The layout a DM to `user_id` is signed with. */
  #layoutTo(user_id: string): Layout {
    return layoutFor(
      this.options.contentSig ?? "auto",
      this.#layout,
      this.#peerLayouts.get(user_id),
    );
  }

  /** A DM through this server verified under `layout`: sign ours that way from now on. */
  async #learnLayout(layout: Layout | undefined, sender: string): Promise<void> {
    if (layout !== undefined) this.#peerLayouts.set(sender, layout);
    const next = learnLayout(this.options.contentSig ?? "auto", this.#layout, layout);
    if (next === this.#layout) return;
    this.#layout = next;
    this.#notes.push(`now signing DMs through this server with layout ${next}`);
    await this.#known.rememberLayout(this.options.url, this.#server_key?.spki ?? "", next);
    this.options.onEvent({
      event: "content_sig",
      layout: this.contentSig,
      learned_from: `a DM from ${this.label(sender)} verified under layout ${next}`,
    });
  }

  async #onDeliver(frame: Extract<Frame, { type: "USER_DELIVER" }>): Promise<void> {
    const { ciphertext, sender, sender_pub, content_sig } = frame.payload;
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && (await this.options.backend.decrypt(this.options.key, bytes));
    if (!plain) {
      return this.options.onEvent({
        event: "warning",
        message: `a message from ${this.label(sender)} could not be decrypted`,
      });
    }
    const ts = frame.ts;
    if (this.#confirm(sender, ts, frame.type)) return; // Seen before: a re-send.
    const senderKey = await this.options.backend.importPublic(sender_pub);
    const known = this.contacts.get(sender);
    // The signature only means something if sender_pub is the key we know for that sender.
    const keyMatches = senderKey.ok && (!known || known.key.spki === senderKey.key.spki);
    const layout = senderKey.ok && keyMatches
      ? await verifyDm(this.options.backend, senderKey.key, {
        ciphertext,
        from: sender,
        to: this.options.user_id,
        ts,
      }, content_sig)
      : undefined;
    const verified = layout !== undefined;
    this.#notes.push(
      verified
        ? `content_sig verified under layout ${layout}`
        : keyMatches
        ? "content_sig does not verify under layout A, B, C or D"
        : "sender_pub is not the key known for the sender: content_sig not checked",
    );
    await this.#learnLayout(layout, sender);
    this.options.onEvent({
      event: "dm",
      from: sender,
      label: this.label(sender),
      text: new TextDecoder().decode(plain),
      verified,
      ts,
    });
  }
}
