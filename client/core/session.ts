/**
 * A user's session with their server, the same for the terminal and the page: USER_HELLO, the
 * server's ACK (its key pinned, every later frame from it verified), a directory from
 * USER_ADVERTISE / USER_REMOVE / LIST_RESPONSE with trust on first use of every user's key, DMs
 * and the public channel (long messages in numbered parts, reassembled on receipt), delivery
 * state of what we sent, files offered and handed out on acceptance, and reconnection with
 * backoff. All crypto goes through {@linkcode ClientCrypto}; the server never sees a private key
 * or plaintext. Time and randomness come from the injected clock and random source.
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import {
  FILE_RECEIPT_MARKS_MAX,
  HELLO_QUIET_MS,
  PEER_LAYOUTS_MAX,
  SEEN_REFS_MAX,
} from "../../protocol/limits.ts";
import { SignedChallenges } from "../../protocol/auth_challenge.ts";
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
import { messageRef } from "../../protocol/message_ref.ts";
import { LruMap } from "../../lib/lru.ts";
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import { type Backoff, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import { DeliveryTracker } from "./delivery.ts";
import type { ConnectionState, CoreEvent, MessageEvent } from "./events.ts";
import { endsWindow, FileReceiver, type ReceiptMark, sendFile } from "./files.ts";
import type { History, HistoryEntry } from "./history.ts";
import { type Named, resolveName, sortByLabel } from "./names.ts";
import { readPart, Reassembler, splitMessage, type Whole } from "./parts.ts";
import type { ClientCrypto, Dial, Memory, PublicKeyLike, Socket } from "./ports.ts";
import { answerChallenge } from "./challenge.ts";
import { pinUser, senderKey, verdict } from "./trust.ts";
import { arr, errorSentence, type Frame, int, isId, obj, readFrame, str } from "./wire.ts";

/** A user in the directory. */
export interface Contact<K extends PublicKeyLike> {
  user_id: string;
  key: K;
  display_name?: string;
  server_id: string;
  online: boolean;
  /** Set while the directory's key differs from the one we remember. */
  keyChanged?: { previous: string; current: string };
}

/** How one frame went, for a trace (`--trace`). */
export type TraceHook = (
  dir: "in" | "out",
  raw: string,
  verdict: "accepted" | "dropped",
  reason: string,
) => void;

/** What a session needs. */
export interface CoreOptions<K extends PublicKeyLike> {
  url: string;
  user_id: string;
  display_name?: string;
  /** Names this client in USER_HELLO. */
  client: string;
  crypto: ClientCrypto<K>;
  dial: Dial;
  memory: Memory;
  clock: Clock;
  random: Random;
  onEvent: (event: CoreEvent) => void;
  backoff?: Backoff;
  /** Quiet milliseconds after USER_HELLO (no answer, no ERROR) after which we count as online. */
  helloQuietMs?: number;
  /** Timers for the quiet period only (default: the clock's), so a test can end it at will. */
  quietTimers?: Pick<Clock, "setTimeout" | "clearTimeout">;
  /** content_sig layout for DMs: one of A-D, or learned per server (default). */
  contentSig?: LayoutSetting;
  /** Challenges this user signed before (shared by its sessions, so a replay is refused). */
  challenges?: SignedChallenges;
  /** A password-login registration, sent once if the server offers login and has none. */
  registration?: () => Promise<Record<string, unknown>>;
  /** Hand out every received file at once instead of waiting for {@linkcode SessionCore.accept}. */
  acceptFiles?: boolean;
  /** Where whole messages, both ways, are kept (encrypted at rest). */
  history?: History;
  trace?: TraceHook;
}

/** Error codes that make retrying pointless: the server refuses this identity. */
const FATAL_BEFORE_READY = new Set(["BAD_KEY", "INVALID_SIG"]);

/** One user's connection, kept up (reconnecting with backoff) until {@linkcode stop}. */
export class SessionCore<K extends PublicKeyLike> {
  readonly contacts = new Map<string, Contact<K>>();
  connection: ConnectionState = { state: "connecting", attempt: 0 };
  server_id = "";
  #socket?: Socket;
  #generation = 0;
  #serverKey?: K;
  #ready = false;
  #stopped = true;
  #failures = 0;
  #timer?: TimerId;
  #quietTimer?: TimerId;
  #lastTs = 0;
  #inbox: Promise<void> = Promise.resolve();
  #listWaiters: ((ids: string[] | undefined) => void)[] = [];
  #directoryWaiters = new Map<string, (p: Record<string, unknown> | undefined) => void>();
  #seenRefs = new Set<string>();
  #files: FileReceiver<K>;
  #reassembly: Reassembler;
  #delivery = new DeliveryTracker();
  #fatal?: string;
  #layout: Layout = "A";
  #peerLayouts = new LruMap<string, Layout>(PEER_LAYOUTS_MAX);
  /** Our file frames whose receipt is the receiver's progress, by reference. */
  #fileMarks = new LruMap<string, ReceiptMark>(FILE_RECEIPT_MARKS_MAX);
  /** The most a receiver has acknowledged of each file we send (progress never goes back). */
  #fileDone = new LruMap<string, number>(FILE_RECEIPT_MARKS_MAX);
  /** What handling the current inbound frame found out, for its trace line. */
  #notes: string[] = [];
  #refused = false;
  /** Labels of users seen before (from memory), loaded at start and kept current. */
  #remembered = new Map<string, string>();

  constructor(private readonly options: CoreOptions<K>) {
    this.#files = new FileReceiver({
      crypto: options.crypto,
      clock: options.clock,
      keyOf: (user) => this.contacts.get(user)?.key,
      label: (user) => this.label(user),
      emit: (e) => this.#emit(e),
      acceptAll: options.acceptFiles ?? false,
    });
    this.#reassembly = new Reassembler(options.clock, (whole) => this.#received(whole));
  }

  get user_id(): string {
    return this.options.user_id;
  }

  /** The layout DMs through this server are signed with, as a status line names it. */
  get contentSig(): string {
    return describeLayout(this.#setting, this.#layout);
  }

  /** Connects (again). */
  start(): void {
    this.#stopped = false;
    this.#fatal = undefined;
    this.#clearTimer();
    this.#connect();
  }

  /** Says goodbye (CTRL_CLOSE) and stays offline. */
  stop(reason = "signed out"): void {
    this.#stopped = true;
    this.#clearTimer();
    const socket = this.#socket;
    this.#socket = undefined;
    this.#generation++;
    if (socket?.open) {
      this.#transmit(socket, {
        type: "CTRL_CLOSE",
        from: this.user_id,
        to: this.server_id || "server",
        ts: this.#nextTs(),
        payload: {},
        sig: "",
      });
      socket.close(1000, "bye");
    } else socket?.close();
    this.#offline();
    this.#reassembly.flushAll();
    this.#setConnection({ state: "stopped", reason });
  }

  /** Retries now instead of waiting for the backoff. */
  retryNow(): void {
    if (this.connection.state !== "waiting") return;
    this.#clearTimer();
    this.#connect();
  }

  /** The label of a user: display name if known, else the id (§6.4). */
  label(user_id: string): string {
    if (user_id === this.user_id) return this.options.display_name ?? user_id;
    return this.contacts.get(user_id)?.display_name ?? this.#remembered.get(user_id) ?? user_id;
  }

  /** Everyone this client knows (online now, or remembered), sorted by label. */
  async users(): Promise<(Named & { label: string })[]> {
    await this.#loadRemembered();
    const all = new Map<string, Named & { label: string }>();
    for (const [user_id, label] of this.#remembered) {
      all.set(user_id, { user_id, label, online: false });
    }
    for (const c of this.contacts.values()) {
      all.set(c.user_id, { user_id: c.user_id, label: this.label(c.user_id), online: c.online });
    }
    return sortByLabel(all.values());
  }

  /** The user `target` names (id or label), online or seen before; throws a clear error if none. */
  async resolve(target: string): Promise<Named & { label: string }> {
    return resolveName(target, await this.users()) as Named & { label: string };
  }

  async #loadRemembered(): Promise<void> {
    for (const k of await this.options.memory.knownKeys()) {
      if (k.label && k.label !== k.user_id) this.#remembered.set(k.user_id, k.label);
    }
  }

  /** The last `limit` messages with `target` (a user's id or label, or "public"), oldest first. */
  async history(target: string, limit = 20): Promise<HistoryEntry[]> {
    const history = this.options.history;
    if (!history) return [];
    const conv = target === "public" ? "public" : (await this.resolve(target)).user_id;
    return history.history(conv, limit);
  }

  /** Hands out a received file (its bytes come as `file_received`); false if none waits. */
  accept(file_id: string): boolean {
    return this.#files.accept(file_id);
  }

  /** Ids of received files waiting to be accepted. */
  filesWaiting(): string[] {
    return this.#files.waiting();
  }

  /** Accepts a changed key after the user compared fingerprints. */
  async trustNewKey(user_id: string): Promise<void> {
    const contact = this.contacts.get(user_id);
    const known = await this.options.memory.knownKey(user_id);
    if (!contact || !known) return;
    await this.options.memory.saveKnownKey({
      user_id,
      spki: contact.key.spki,
      fingerprint: this.options.crypto.fingerprint(contact.key),
      label: this.label(user_id),
      first_seen: this.options.clock.now(),
    });
    delete contact.keyChanged;
    this.#emit({ event: "contacts" });
  }

  /**
   * Sends a DM to `target` (an id or a label, online or seen before); a long text goes as
   * numbered parts, in order. Returns each part's reference, which delivery notices name.
   */
  async tell(target: string, text: string): Promise<{ to: Contact<K>; refs: string[] }> {
    this.#requireOnline();
    const contact = await this.recipient(target);
    const pieces = splitMessage(text, this.options.random);
    const refs: string[] = [];
    let first = 0;
    for (const piece of pieces) {
      const ts = this.#nextTs();
      first ||= ts;
      const ciphertext = b64uEncode(await this.options.crypto.encrypt(contact.key, piece));
      const layout = layoutFor(this.#setting, this.#layout, this.#peerLayouts.get(contact.user_id));
      const content_sig = await this.options.crypto.signDm({
        ciphertext,
        from: this.user_id,
        to: contact.user_id,
        ts,
      }, layout);
      this.#notes = [`content_sig layout ${layout}`];
      await this.#sendSigned("MSG_DIRECT", contact.user_id, {
        ciphertext,
        sender_pub: this.options.crypto.spki,
        content_sig,
      }, ts);
      refs.push(messageRef(this.user_id, contact.user_id, ts));
    }
    const sent = this.#delivery.sent(contact.user_id, first, refs);
    this.#own(contact.user_id, text, first, pieces.length, {
      msg_ref: sent.msg_ref,
      state: sent.state,
    });
    return { to: contact, refs };
  }

  /** Posts to the public channel: one copy per online member, each encrypted for them. */
  async sendPublic(text: string): Promise<{ sent: number; skipped: string[] }> {
    this.#requireOnline();
    const members = [...this.contacts.values()].filter((c) => c.online);
    const ok = members.filter((c) => !c.keyChanged);
    const pieces = splitMessage(text, this.options.random);
    let first = 0;
    for (const piece of pieces) {
      for (const member of ok) {
        const ts = this.#nextTs();
        first ||= ts;
        const ciphertext = b64uEncode(await this.options.crypto.encrypt(member.key, piece));
        const content_sig = await this.options.crypto.signPublic({
          ciphertext,
          from: this.user_id,
          ts,
        });
        this.#sendRaw(
          "MSG_PUBLIC_CHANNEL",
          member.user_id,
          { ciphertext, sender_pub: this.options.crypto.spki, content_sig },
          ts,
          "",
        );
      }
    }
    const skipped = members.filter((c) => c.keyChanged).map((c) => this.label(c.user_id));
    const ts = first || this.options.clock.now();
    this.#own("public", text, ts, pieces.length, { recipients: ok.length, skipped });
    return { sent: ok.length, skipped };
  }

  /** Sends a file to one user (id or label), or to every online member (`"public"`). */
  async transfer(
    target: string,
    name: string,
    data: Uint8Array,
    progress?: (done: number, total: number) => void,
  ): Promise<{ file_id: string; recipients: Contact<K>[] }> {
    this.#requireOnline();
    const recipients = target === "public"
      ? [...this.contacts.values()].filter((c) => c.online && !c.keyChanged)
      : [await this.recipient(target)];
    if (recipients.length === 0) throw new Error("Nobody else is online.");
    const generation = this.#generation;
    const file_id = await sendFile(
      {
        crypto: this.options.crypto,
        random: this.options.random,
        user_id: this.user_id,
        send: (type, to, payload, ts) => {
          if (this.#generation !== generation) {
            throw new Error(
              "The connection dropped while sending.",
            );
          }
          this.#sendRaw(type, to, payload, ts, "");
        },
        sync: () => this.#sync(),
        nextTs: () => this.#nextTs(),
        ...(progress ? { taken: progress } : {}),
        mark: (m) => this.#fileMarks.set(messageRef(this.user_id, m.to, m.ts), m),
      },
      recipients,
      name,
      data,
      target === "public" ? "public" : "dm",
    );
    return { file_id, recipients };
  }

  /** Asks the server for the online list (in the server's order). */
  async list(): Promise<{ user_id: string; label: string; server_id: string }[]> {
    const answer = new Promise<string[] | undefined>((resolve) => this.#listWaiters.push(resolve));
    await this.#sendSigned("LIST_REQUEST", this.server_id, {}, this.#nextTs(), true);
    const ids = (await answer) ?? [];
    return ids.map((user_id) => ({
      user_id,
      label: this.label(user_id),
      server_id: this.contacts.get(user_id)?.server_id ?? "",
    }));
  }

  /** The server directory's signed answer for a user (PUBKEY_REQUEST), or `undefined`. */
  async directory(user_id: string): Promise<Record<string, unknown> | undefined> {
    const answer = new Promise<Record<string, unknown> | undefined>((resolve) =>
      this.#directoryWaiters.set(user_id, resolve)
    );
    await this.#sendSigned("PUBKEY_REQUEST", this.server_id, { user_id }, this.#nextTs(), true);
    try {
      return await answer;
    } finally {
      this.#directoryWaiters.delete(user_id);
    }
  }

  /**
   * Someone to write to: online (by id or label), or seen before (their pinned key), or known to
   * the server's directory (by id). A user whose key changed is refused until trusted again.
   */
  async recipient(target: string): Promise<Contact<K>> {
    const named = await this.resolve(target).catch((e) => {
      if (isUuid(target)) return { user_id: target, label: target, online: false };
      throw e;
    });
    const contact = this.contacts.get(named.user_id);
    const changed = () =>
      new Error(
        `${
          this.label(named.user_id)
        }'s key changed. Compare fingerprints with them, then trust the new key ("Trust new key").`,
      );
    if (contact?.keyChanged) throw changed();
    if (contact) return contact;
    // Offline: the key pinned when we last saw them, or the directory's if we never did.
    const known = await this.options.memory.knownKey(named.user_id);
    if (known?.changed) throw changed();
    const payload = known ? undefined : await this.directory(named.user_id);
    const imported = await this.options.crypto.importPublic(known?.spki ?? str(payload, "pubkey"));
    if (!imported.ok) {
      throw new Error(`Unknown user "${target}": not online and not in the directory`);
    }
    const display_name = str(payload, "display_name", 64);
    return {
      user_id: named.user_id,
      key: imported.key,
      server_id: str(payload, "server_id", 256) ?? "",
      online: false,
      ...(display_name ? { display_name } : {}),
    };
  }

  get #setting(): LayoutSetting {
    return this.options.contentSig ?? "auto";
  }

  #emit(event: CoreEvent): void {
    this.options.onEvent(event);
  }

  #requireOnline(): void {
    if (this.connection.state !== "online") {
      throw new Error("Not connected: wait until the status says Online.");
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #connect(): void {
    const generation = ++this.#generation;
    this.#ready = false;
    this.#inbox = Promise.resolve();
    this.#setConnection({ state: "connecting", attempt: this.#failures + 1 });
    const current = () => generation === this.#generation;
    this.#socket = this.options.dial(this.options.url, {
      open: () => {
        if (current()) void this.#hello(generation);
      },
      message: (text) => {
        if (!current()) return;
        this.#inbox = this.#inbox.then(() => this.#receive(text, generation)).catch((err) =>
          this.#emit({ event: "warning", message: `could not handle a frame: ${err}` })
        );
      },
      close: (code, reason) => {
        if (!current()) return;
        this.#stopQuiet();
        this.#lost(
          generation,
          code === 1000
            ? "the server closed the connection"
            : `connection lost (${code}${reason ? `: ${reason}` : ""})`,
          code,
        );
      },
    });
  }

  async #hello(generation: number): Promise<void> {
    await this.#usePin();
    await this.#loadRemembered();
    const payload: Record<string, unknown> = {
      client: this.options.client,
      pubkey: this.options.crypto.spki,
      enc_pubkey: this.options.crypto.spki,
      // We confirm what we receive and understand receipts (reliable delivery, our extension).
      features: ["receipts"],
    };
    if (this.options.display_name) payload.meta = { display_name: this.options.display_name };
    try {
      await this.#sendSigned("USER_HELLO", "server", payload, this.#nextTs(), true);
      this.#waitQuietly(generation);
    } catch { /* the close handler reconnects */ }
  }

  #lost(generation: number, reason: string, code?: number): void {
    if (generation !== this.#generation) return;
    this.#generation++;
    this.#socket = undefined;
    this.#offline();
    if (this.#stopped) return;
    if (this.#fatal) {
      this.#stopped = true;
      return this.#setConnection({ state: "stopped", reason: this.#fatal });
    }
    this.#failures++;
    const wait = backoffDelay(
      this.#failures,
      this.options.random.float(),
      this.options.backoff ?? DEFAULT_BACKOFF,
    );
    this.#setConnection({
      state: "waiting",
      retry_at: this.options.clock.now() + wait,
      attempt: this.#failures,
      reason,
      ...(code !== undefined ? { code } : {}),
    });
    this.#timer = this.options.clock.setTimeout(() => this.#connect(), wait);
  }

  #offline(): void {
    this.#ready = false;
    this.#stopQuiet();
    for (const w of this.#listWaiters.splice(0)) w(undefined);
    for (const w of this.#directoryWaiters.values()) w(undefined);
    this.#files.abort("the connection dropped before the file was complete");
    let changed = false;
    for (const c of this.contacts.values()) {
      if (c.online) {
        c.online = false;
        changed = true;
      }
    }
    if (changed) this.#emit({ event: "contacts" });
  }

  /** The server key pinned for this URL verifies its frames until (unless) it answers hello. */
  async #usePin(): Promise<void> {
    const pin = await this.options.memory.serverPin(this.options.url);
    const imported = pin?.spki ? await this.options.crypto.importPublic(pin.spki) : undefined;
    this.#serverKey = imported?.ok ? imported.key : undefined;
    this.server_id = "";
    this.#layout = initialLayout(
      this.#setting,
      pin && isLayout(pin.content_sig) ? pin.content_sig : undefined,
    );
  }

  /** (Re)starts the quiet period after USER_HELLO (and after answering a challenge). */
  #waitQuietly(generation: number): void {
    this.#stopQuiet();
    this.#quietTimer = (this.options.quietTimers ?? this.options.clock).setTimeout(() => {
      if (this.#generation === generation && !this.#ready) this.#online("quiet");
    }, this.options.helloQuietMs ?? HELLO_QUIET_MS);
  }

  #stopQuiet(): void {
    const timers = this.options.quietTimers ?? this.options.clock;
    if (this.#quietTimer !== undefined) timers.clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
  }

  #online(hello: "ack" | "quiet"): void {
    this.#stopQuiet();
    this.#ready = true;
    this.#failures = 0;
    const fingerprint = this.#serverKey
      ? this.options.crypto.fingerprint(this.#serverKey)
      : "unknown";
    this.#setConnection({
      state: "online",
      server_id: this.server_id,
      server_fingerprint: fingerprint,
      hello,
      content_sig: this.contentSig,
    });
    this.#emit({
      event: "ready",
      user_id: this.user_id,
      server_id: this.server_id,
      server_pub: this.#serverKey?.spki ?? "",
      hello,
      quiet_ms: this.options.helloQuietMs ?? HELLO_QUIET_MS,
      content_sig: this.contentSig,
    });
  }

  #setConnection(connection: ConnectionState): void {
    this.connection = connection;
    this.#emit({ event: "connection", connection });
  }

  #nextTs(): number {
    // Strictly increasing, so a multi-part message keeps its order at every hop.
    this.#lastTs = Math.max(this.options.clock.now(), this.#lastTs + 1);
    return this.#lastTs;
  }

  /** A signed frame; `early` lets it go before the session is online (answers during hello). */
  async #sendSigned(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts: number,
    early = false,
  ): Promise<void> {
    if (!early) this.#requireOnline();
    this.#sendRaw(type, to, payload, ts, await this.options.crypto.signPayload(payload));
  }

  #sendRaw(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts: number,
    sig: string,
  ): void {
    const socket = this.#socket;
    if (!socket?.open) throw new Error("Not connected: the message was not sent.");
    this.#transmit(socket, { type, from: this.user_id, to, ts, payload, sig });
  }

  #transmit(
    socket: Socket,
    frame: { type: string; payload: Record<string, unknown> } & Record<string, unknown>,
  ): void {
    const text = JSON.stringify(frame);
    socket.send(text);
    if (!this.options.trace) return;
    // LOGIN_REGISTER carries our encrypted key and a password verifier: kept out of traces.
    const raw = frame.type === "LOGIN_REGISTER"
      ? JSON.stringify({ ...frame, payload: { redacted: "encrypted key and password verifier" } })
      : text;
    this.options.trace(
      "out",
      raw,
      "accepted",
      frame.type === "MSG_DIRECT" ? this.#notes.join("; ") : "",
    );
  }

  /** A LIST round trip: the server has handled what we sent before it. At most 10 s. */
  async #sync(): Promise<void> {
    let timer: TimerId | undefined;
    await Promise.race([
      this.list().catch(() => {}),
      new Promise<void>((resolve) => timer = this.options.clock.setTimeout(resolve, 10_000)),
    ]);
    if (timer !== undefined) this.options.clock.clearTimeout(timer);
  }

  async #receive(text: string, generation: number): Promise<void> {
    if (generation !== this.#generation) return;
    const trace = this.options.trace ?? (() => {});
    const { frame, problem } = readFrame(text);
    if (!frame) {
      trace("in", text, "dropped", `bad frame: ${problem}`);
      return this.#emit({ event: "warning", message: `server sent a bad frame: ${problem}` });
    }
    this.#notes = [];
    this.#refused = false;
    if (!(await this.#fromServerOk(frame))) {
      trace("in", text, "dropped", "server signature does not verify with the pinned server key");
      return this.#emit({
        event: "warning",
        message: `dropped a ${frame.type} whose server signature does not verify`,
      });
    }
    try {
      await this.#handle(frame, generation);
      trace("in", text, this.#refused ? "dropped" : "accepted", this.#notes.join("; "));
    } catch (e) {
      const message = `could not handle ${frame.type}: ${(e as Error).message}`;
      trace("in", text, "dropped", message);
      this.#emit({ event: "warning", message });
    }
  }

  /**
   * Whether a frame passes the server-signature check. With a server key (from its ACK, or
   * pinned earlier for this URL) every frame from the server must verify. A server that never
   * answered hello is known by the first frame that verifies with the pinned key; before that,
   * a server frame that does not verify is dropped. With no key at all (a server that never
   * proved one) frames pass unverified, as the status says.
   */
  async #fromServerOk(frame: Frame): Promise<boolean> {
    const key = this.#serverKey;
    if (!key) {
      if (!this.server_id && SERVER_TO_USER_TYPES.has(frame.type)) this.server_id = frame.from;
      return true;
    }
    const verify = () => this.options.crypto.verifyPayload(key, frame.payload, frame.sig);
    if (this.server_id) return frame.from !== this.server_id || await verify();
    // A hello ACK that brings its own key is checked with it (and compared with the pin) when
    // handled; one without a key must verify with the pin like any other frame.
    if (
      frame.type === "ACK" && frame.payload.msg_ref === "USER_HELLO" &&
      typeof frame.payload.server_pub === "string"
    ) return true;
    if (await verify()) {
      this.server_id = frame.from;
      this.#notes.push(`server id ${frame.from} learned from a frame signed by the pinned key`);
      return true;
    }
    return !SERVER_TO_USER_TYPES.has(frame.type);
  }

  async #handle(frame: Frame, generation: number): Promise<void> {
    const p = frame.payload;
    switch (frame.type) {
      case "ACK":
        return await this.#onAck(frame);
      case "MSG_RECEIPT":
        return this.#onStatus(str(p, "msg_ref", 1024), str(p, "status", 32), "");
      case "AUTH_CHALLENGE":
        return await this.#onChallenge(frame, generation);
      case "PUBKEY_RESPONSE":
        return this.#directoryWaiters.get(str(p, "user_id", 256) ?? "")?.(p);
      case "ERROR":
        return this.#onError(frame, generation);
      case "USER_ADVERTISE": {
        const meta = obj(p, "meta");
        return await this.#learn(
          str(p, "user_id", 256),
          str(p, "server_id", 256) ?? frame.from,
          str(p, "pubkey") ?? str(meta, "pubkey"),
          str(meta, "display_name", 64),
        );
      }
      case "USER_REMOVE":
        return this.#onRemove(str(p, "user_id", 256) ?? "", str(p, "server_id", 256));
      case "LIST_RESPONSE":
        return await this.#onList(frame);
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
        // The last chunk of a window asks a receipt: the sender's progress is what we have.
        this.#files.chunk(frame);
        return void this.#ack(frame.from, frame.ts, frame.type, endsWindow(int(p, "index") ?? 0));
      case "FILE_END":
        // Confirmed once checked, so the sender's 100 % never comes before the file is whole.
        try {
          return await this.#files.end(frame);
        } finally {
          this.#ack(frame.from, frame.ts, frame.type, true);
        }
      case "CTRL_CLOSE":
        if (generation === this.#generation) this.#socket?.close(1000);
        return;
      default:
        return;
    }
  }

  async #onAck(frame: Frame): Promise<void> {
    const ref = str(frame.payload, "msg_ref", 1024);
    if (ref === "USER_HELLO") {
      if (!this.#ready) await this.#welcomed(frame);
    } else if (ref === "LOGIN_REGISTER") this.#emit({ event: "login_registered" });
    else {this.#onStatus(
        ref,
        str(frame.payload, "status", 32),
        str(frame.payload, "detail", 2048) ?? "",
      );}
  }

  /** A server's word on a sent frame: "queued" while the recipient is offline, "delivered"… */
  #onStatus(ref: string | undefined, status: string | undefined, detail: string): void {
    if (ref === undefined || status === undefined) return;
    this.#emit({ event: "delivery", msg_ref: ref, status, detail });
    const moved = this.#delivery.update(ref, status);
    if (moved) this.#emit({ event: "message_state", ...moved });
    if (status === "delivered") this.#fileReceipt(ref);
  }

  /** A receiver has a file of ours up to a window's end (or whole): that is its progress. */
  #fileReceipt(ref: string): void {
    const mark = this.#fileMarks.get(ref);
    if (!mark) return;
    this.#fileMarks.delete(ref);
    if (mark.done <= (this.#fileDone.get(mark.file_id) ?? 0)) return;
    this.#fileDone.set(mark.file_id, mark.done);
    const { file_id, name, done, total, to: peer } = mark;
    this.#emit({ event: "file_progress", file_id, peer, name, direction: "send", done, total });
  }

  #onError(frame: Frame, generation: number): void {
    const code = str(frame.payload, "code", 64) ?? "ERROR";
    const detail = str(frame.payload, "detail", 2048) ?? "";
    for (const [user, waiter] of this.#directoryWaiters) {
      if (detail.includes(user)) waiter(undefined);
    }
    this.#emit({ event: "error", code, detail, sentence: errorSentence(code) });
    if (this.#ready) return;
    // The hello was refused: not online. Retry later, unless retrying cannot help.
    this.#notes.push("an ERROR before the hello was accepted: not connected");
    if (FATAL_BEFORE_READY.has(code)) this.#fatal = `${code}: ${detail}`.trim();
    this.#stopQuiet();
    if (generation === this.#generation) this.#socket?.close(4000, `hello refused: ${code}`);
  }

  #onRemove(user_id: string, server_id: string | undefined): void {
    const contact = this.contacts.get(user_id);
    if (!contact || contact.server_id !== server_id || !contact.online) return;
    contact.online = false;
    this.#emit({ event: "offline", user_id, label: this.label(user_id) });
    this.#emit({ event: "contacts" });
  }

  async #onList(frame: Frame): Promise<void> {
    for (const entry of arr(frame.payload, "entries")) {
      await this.#learn(
        str(entry, "user_id", 256),
        str(entry, "server_id", 256) ?? "",
        str(entry, "pubkey"),
        str(entry, "display_name", 64),
      );
    }
    const ids = arr(frame.payload, "users").map((u) =>
      typeof u === "string" ? u : str(u, "user_id", 256)
    ).filter(isId);
    this.#listWaiters.shift()?.(ids);
  }

  async #onChallenge(frame: Frame, generation: number): Promise<void> {
    const refusal = await this.#answerChallenge(frame);
    if (this.#ready) return;
    if (refusal === undefined) return this.#waitQuietly(generation); // An ERROR may follow.
    // Unproven, we are not connected; retrying would meet the same kind of challenge.
    this.#fatal = `Refused the server's AUTH_CHALLENGE: ${refusal}`;
    this.#stopQuiet();
    if (generation === this.#generation) this.#socket?.close(4000, "auth challenge refused");
  }

  /** Answers an AUTH_CHALLENGE (challenge.ts); the refusal, if this client will not sign. */
  async #answerChallenge(frame: Frame): Promise<string | undefined> {
    const answer = await answerChallenge(
      this.options.crypto,
      this.options.challenges ??= new SignedChallenges(),
      this.user_id,
      frame,
    );
    this.#notes.push(answer.note);
    if ("refusal" in answer) {
      this.#refused = true;
      this.#emit({
        event: "error",
        code: "CLIENT",
        detail: `refused to sign the server's AUTH_CHALLENGE: ${answer.refusal}`,
        sentence: "This client refused to sign the server's challenge.",
      });
      return answer.refusal;
    }
    await this.#sendSigned(answer.type, frame.from, answer.payload, this.#nextTs(), true);
    return undefined;
  }

  /** The server's answer to USER_HELLO: pin its key from it (§15 P7) and check the ACK with it. */
  async #welcomed(frame: Frame): Promise<void> {
    const { crypto, memory, url } = this.options;
    this.server_id = str(frame.payload, "server_id", 256) ?? frame.from;
    const claimed = await crypto.importPublic(str(frame.payload, "server_pub"));
    if (claimed.ok && await crypto.verifyPayload(claimed.key, frame.payload, frame.sig)) {
      this.#serverKey = claimed.key;
      this.#notes.push("hello acknowledged; server key proven by this ACK");
      const pin = await memory.serverPin(url);
      if (pin?.spki && pin.spki !== claimed.key.spki) {
        // The pin is kept, so a swapped key is reported every time, never silently adopted.
        this.#emit({
          event: "warning",
          message:
            `SERVER KEY CHANGED for ${url}: pinned ${pin.fingerprint}, now ${
              crypto.fingerprint(claimed.key)
            }. ` +
            "If the operator did not replace it, someone may be impersonating the server.",
        });
      } else {
        const learned = pin?.spki === claimed.key.spki && isLayout(pin.content_sig)
          ? pin.content_sig
          : undefined;
        this.#layout = initialLayout(this.#setting, learned);
        await memory.saveServerPin({
          url,
          server_id: this.server_id,
          spki: claimed.key.spki,
          fingerprint: crypto.fingerprint(claimed.key),
          ...(learned ? { content_sig: learned } : {}),
        });
      }
    } else if (!this.#serverKey) {
      this.#emit({
        event: "warning",
        message: "The server did not prove its key; its frames are not verified.",
      });
    }
    this.#online("ack");
    const features = arr(frame.payload, "features");
    if (
      features.includes("login") && frame.payload.login_registered === false &&
      this.options.registration
    ) {
      await this.#sendSigned(
        "LOGIN_REGISTER",
        this.server_id,
        await this.options.registration(),
        this.#nextTs(),
        true,
      );
    }
  }

  /** A DM through this server verified under `layout`: sign ours that way from now on. */
  async #learnLayout(layout: Layout | undefined, sender: string): Promise<void> {
    if (layout !== undefined) this.#peerLayouts.set(sender, layout);
    const next = learnLayout(this.#setting, this.#layout, layout);
    if (next === this.#layout) return;
    this.#layout = next;
    this.#notes.push(`now signing DMs through this server with layout ${next}`);
    const key = this.#serverKey;
    await this.options.memory.saveServerPin({
      url: this.options.url,
      server_id: this.server_id,
      spki: key?.spki ?? "",
      fingerprint: key ? this.options.crypto.fingerprint(key) : "",
      content_sig: next,
    });
    this.#emit({
      event: "content_sig",
      layout: this.contentSig,
      learned_from: `a DM from ${this.label(sender)} verified under layout ${next}`,
    });
    if (this.connection.state === "online") {
      this.#setConnection({ ...this.connection, content_sig: this.contentSig });
    }
  }

  async #learn(
    user_id: string | undefined,
    server_id: string,
    pubkey: string | undefined,
    display_name: string | undefined,
  ): Promise<void> {
    if (!isId(user_id) || pubkey === undefined) return;
    if (user_id === this.user_id) return;
    const before = this.contacts.get(user_id);
    const imported = before?.key.spki === pubkey
      ? { ok: true as const, key: before.key }
      : await this.options.crypto.importPublic(pubkey);
    if (!imported.ok) {
      return this.#emit({
        event: "warning",
        message: `ignored user ${user_id}: ${imported.reason}`,
      });
    }
    const contact: Contact<K> = { user_id, key: imported.key, server_id, online: true };
    const name = display_name ?? before?.display_name;
    if (name !== undefined) contact.display_name = name;
    const label = name ?? this.#remembered.get(user_id) ?? user_id;
    if (name !== undefined) this.#remembered.set(user_id, name);
    const changed = await pinUser(this.options, user_id, imported.key, label);
    if (changed) contact.keyChanged = changed;
    this.contacts.set(user_id, contact);
    // Told once per session and key, also when the warning is remembered from an earlier run.
    if (changed && before?.key.spki !== imported.key.spki) {
      this.#emit({ event: "key_changed", user_id, label, ...changed });
      this.#emit({
        event: "warning",
        message:
          `KEY CHANGED for ${label}: was ${changed.previous}, now ${changed.current}. Check with them before trusting it.`,
      });
    }
    if (!before?.online) this.#emit({ event: "online", user_id, label });
    this.#emit({ event: "contacts" });
  }

  /** Tells the server we received a frame, so a queued copy is retired and the sender told. */
  #ack(sender: string, ts: number, type: string, receipt = false): string {
    const ref = messageRef(sender, this.user_id, ts);
    // `receipt`: our extension; the server then tells the sender (file frames are not told
    // unless asked, so a file is not a receipt per chunk).
    const payload = receipt ? { msg_ref: ref, type, receipt } : { msg_ref: ref, type };
    try {
      this.#sendRaw("ACK", this.server_id || "server", payload, this.#nextTs(), "");
    } catch { /* offline: the server re-sends what was queued, and we confirm it then */ }
    return ref;
  }

  /** Confirms a message; true when it was shown before (de-duplication by reference). */
  #confirm(sender: string, ts: number, type: string): boolean {
    const ref = this.#ack(sender, ts, type);
    if (this.#seenRefs.has(ref)) return true;
    this.#seenRefs.add(ref);
    if (this.#seenRefs.size > SEEN_REFS_MAX) {
      this.#seenRefs.delete(this.#seenRefs.values().next().value!);
    }
    return false;
  }

  async #onDeliver(frame: Frame): Promise<void> {
    const p = frame.payload;
    const ciphertext = str(p, "ciphertext", 2048) ?? "";
    const sender = str(p, "sender", 256) ?? "";
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && await this.options.crypto.decrypt(bytes);
    if (!plain) {
      return this.#emit({
        event: "warning",
        message: `a message from ${this.label(sender)} could not be decrypted`,
      });
    }
    // The original ts is in the envelope (§15 P6).
    const ts = frame.ts;
    if (this.#confirm(sender, ts, frame.type)) return; // A re-send we already showed.
    const { key, note } = await senderKey(
      this.options.crypto,
      this.contacts.get(sender),
      str(p, "sender_pub"),
    );
    const layout = key === undefined ? undefined : await this.options.crypto.verifyDm(
      key,
      { ciphertext, from: sender, to: this.user_id, ts },
      p.content_sig,
    );
    this.#notes.push(
      layout !== undefined
        ? `content_sig verified under layout ${layout}`
        : note ?? "content_sig does not verify under layout A, B, C or D",
    );
    // Only a key the directory vouches for teaches a layout.
    if (note === undefined) await this.#learnLayout(layout, sender);
    this.#part(
      "dm",
      sender,
      ts,
      new TextDecoder().decode(plain),
      verdict(key, layout !== undefined, note),
    );
  }

  async #onPublic(frame: Frame): Promise<void> {
    const p = frame.payload;
    const ciphertext = str(p, "ciphertext", 2048) ?? "";
    // Servers that re-wrap the frame put the sender and original ts in the payload (§3.7.4 DF).
    const sender = str(p, "sender", 256) ?? frame.from;
    const ts = typeof p.ts === "number" ? p.ts : frame.ts;
    const bytes = b64uDecode(ciphertext);
    const plain = bytes && await this.options.crypto.decrypt(bytes);
    if (!plain) return; // Another member's copy.
    if (this.#confirm(sender, ts, frame.type)) return; // A re-send we already showed.
    const { key, note } = await senderKey(
      this.options.crypto,
      this.contacts.get(sender),
      str(p, "sender_pub"),
    );
    const good = key !== undefined &&
      await this.options.crypto.verifyPublic(key, { ciphertext, from: sender, ts }, p.content_sig);
    this.#part("public", sender, ts, new TextDecoder().decode(plain), verdict(key, good, note));
  }

  /** One received DM or public frame: told as such, and put into its whole message. */
  #part(
    kind: "dm" | "public",
    sender: string,
    ts: number,
    plaintext: string,
    v: { verified: boolean; note?: string },
  ): void {
    const { header, text } = readPart(plaintext);
    const note = v.note === undefined ? {} : { note: v.note };
    this.#emit({
      event: kind,
      from: sender,
      label: this.label(sender),
      text,
      verified: v.verified,
      ts,
      ...note,
    });
    this.#reassembly.add({
      conv: kind === "dm" ? sender : "public",
      from: sender,
      ts,
      verified: v.verified,
      text,
      ...(header ? { header } : {}),
    });
  }

  /** A whole received message. */
  #received(whole: Whole): void {
    const to = whole.conv === "public" ? "public" : this.user_id;
    const message: MessageEvent = {
      event: "message",
      direction: "in",
      conv: whole.conv,
      from: whole.from,
      to,
      label: this.label(whole.from),
      text: whole.text,
      ts: whole.ts,
      verified: whole.verified,
      parts: whole.parts,
      missing: whole.missing,
    };
    if (!whole.verified && whole.missing.length === 0) message.note = "a part did not verify";
    this.#emit(message);
    this.options.history?.add(whole.conv, {
      ts: whole.ts,
      from: whole.from,
      to,
      text: whole.text,
      verified: whole.verified,
    });
  }

  /** A message of ours, told to the shell and kept in the history. */
  #own(
    conv: string,
    text: string,
    ts: number,
    parts: number,
    state: Pick<MessageEvent, "msg_ref" | "state" | "recipients" | "skipped">,
  ): void {
    this.#emit({
      event: "message",
      direction: "out",
      conv,
      from: this.user_id,
      to: conv,
      label: this.label(this.user_id),
      text,
      ts,
      verified: true,
      parts,
      missing: [],
      ...state,
    });
    this.options.history?.add(conv, { ts, from: this.user_id, to: conv, text, verified: true });
  }

  async #onKeyShare(frame: Frame): Promise<void> {
    const p = frame.payload;
    const shares = arr(p, "shares").filter((s) => isId(str(s, "member", 256))) as {
      member: string;
      wrapped_public_channel_key: string;
    }[];
    const mine = shares.find((s) => s.member === this.user_id);
    const creator_pub = str(p, "creator_pub");
    if (!mine || creator_pub === undefined) return;
    const creator = await this.options.crypto.importPublic(creator_pub);
    const signed = creator.ok &&
      await this.options.crypto.verifyKeyShare(creator.key, shares, creator_pub, p.content_sig);
    const wrapped = b64uDecode(str(mine, "wrapped_public_channel_key", 2048) ?? "!");
    const groupKey = wrapped && await this.options.crypto.decrypt(wrapped);
    // The key is not used for messages (per-recipient RSA); it is checked and dropped.
    const verified = signed && groupKey?.length === 32;
    groupKey?.fill(0);
    this.#emit({ event: "channel_key", creator: frame.from, verified });
  }
}

function isUuid(text: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text);
}
