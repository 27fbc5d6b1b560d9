/**
 * The terminal client's session: the client core (client/core/session.ts) with the terminal's
 * ports (the RSA backend, npm:ws, the pins file) and its few extras: received files saved in the
 * downloads folder, progress with rate and ETA, `/whois`, and a trace of every frame. The
 * vocabulary is the core's; `--json` prints each event as one line.
 * @module
 */
import { basename } from "node:path";
import type { PrivateKey, PublicKey, RsaBackend } from "../crypto/types.ts";
import type { SignedChallenges } from "../protocol/auth_challenge.ts";
import type { LayoutSetting } from "../protocol/content_sig_layout.ts";
import type { Clock, Random } from "../lib/world.ts";
import type { Backoff } from "./core/backoff.ts";
import type { CoreEvent } from "./core/events.ts";
import type { History, HistoryEntry } from "./core/history.ts";
import type { Named } from "./core/names.ts";
import { SessionCore } from "./core/session.ts";
import { backendCrypto } from "./backend_crypto.ts";
import type { Contact } from "./contact.ts";
import { saveDownload } from "./file_receiver.ts";
import { readOutgoing } from "./file_sender.ts";
import { fingerprint, KnownKeys } from "./known_keys.ts";
import type { LoginRegistration } from "./login.ts";
import { type Progress, ProgressMeter } from "./progress.ts";
import { idNotes, NO_TRACE, type Tracer, withNotes } from "./trace.ts";
import { wsDial } from "./ws_dial.ts";

/** Something the user should see. */
export type ClientEvent =
  | Exclude<CoreEvent, { event: "file_progress" | "file_received" | "error" }>
  /** `sentence`: the code in plain words, where the core knows it. */
  | { event: "error"; code: string; detail: string; sentence?: string }
  | ({ event: "progress" } & Progress)
  | {
    event: "file_saved";
    file_id: string;
    from: string;
    label: string;
    name: string;
    path: string;
    size: number;
    sha256: string;
    verified: boolean;
  }
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
  | { event: "file_sent"; file_id: string; name: string; to: string; recipients: number }
  /** The server's online list (`--json`), or everyone known with `online` (interactive). */
  | {
    event: "list";
    users: { user_id: string; label: string; server_id?: string; online?: boolean }[];
  }
  | { event: "history"; with: string; entries: HistoryEntry[] }
  | { event: "trusted"; user_id: string; label: string }
  | { event: "sent"; to: string; label: string; parts: number; msg_refs?: string[] }
  | { event: "closed"; code: number; reason: string };

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
  /** Pins of server and user keys (trust on first use), and names of users seen before. */
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
  /** Save every received file at once (default); false: only after {@linkcode ChatSession.accept}. */
  acceptFiles?: boolean;
  /** Where messages are kept, encrypted at rest (client/history_file.ts). */
  history?: History;
  /** When to try again after losing the server (default: the core's schedule). */
  backoff?: Backoff;
  /**
   * Reconnect after a drop (default). false: a drop ends the session with `closed`, as scripts
   * (`--json`) expect.
   */
  reconnect?: boolean;
}

/** One connected client: connected once, then kept connected (with backoff) until closed. */
export class ChatSession {
  readonly #core: SessionCore<PublicKey>;
  readonly #known: KnownKeys;
  #meters = new Map<string, ProgressMeter>();
  #first = Promise.withResolvers<void>();
  #ready = false;
  #lastError?: string;
  #closedByUs = false;
  /** How the connection ended, when a drop ends the session (`reconnect: false`). */
  #dropped?: { code: number; reason: string };

  private constructor(private readonly options: SessionOptions, known: KnownKeys) {
    this.#known = known;
    const tracer = options.tracer ?? NO_TRACE;
    this.#core = new SessionCore({
      url: options.url,
      user_id: options.user_id,
      ...(options.display_name ? { display_name: options.display_name } : {}),
      client: "socp-deno-cli/0.1",
      crypto: backendCrypto(options.backend, options.key),
      dial: wsDial,
      memory: known.asMemory(),
      clock: options.clock,
      random: options.random,
      onEvent: (e) => this.#onCore(e),
      ...(options.helloQuietMs !== undefined ? { helloQuietMs: options.helloQuietMs } : {}),
      ...(options.contentSig ? { contentSig: options.contentSig } : {}),
      ...(options.challenges ? { challenges: options.challenges } : {}),
      ...(options.registration
        ? { registration: async () => ({ ...(await options.registration!()) }) }
        : {}),
      ...(options.history ? { history: options.history } : {}),
      acceptFiles: options.acceptFiles ?? true,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      trace: (dir, raw, verdict, reason) =>
        tracer.frame(dir, raw, verdict, withNotes(reason, idNotes(parseQuietly(raw)))),
    });
  }

  /**
   * Connects and says hello. Resolves when the server acknowledged it, or, since the spec
   * defines no reply, once the socket stayed open with no ERROR for a quiet period. Rejects if
   * the first attempt fails; after that, a lost connection is retried with backoff.
   */
  static async connect(options: SessionOptions): Promise<ChatSession> {
    const known = options.known ?? (await KnownKeys.load(undefined));
    const session = new ChatSession(options, known);
    session.#core.start();
    try {
      await session.#first.promise;
    } catch (e) {
      session.#core.stop("could not connect");
      throw e;
    }
    return session;
  }

  get contacts(): Map<string, Contact> {
    return this.#core.contacts;
  }

  get user_id(): string {
    return this.options.user_id;
  }

  get server_id(): string {
    return this.#core.server_id;
  }

  /** The layout DMs through this server are signed with, as the status line names it. */
  get contentSig(): string {
    return this.#core.contentSig;
  }

  /** The trace this session reports to. */
  get tracer(): Tracer {
    return this.options.tracer ?? NO_TRACE;
  }

  /** The label of a user: display name if known (now or from before), else the id (§6.4). */
  label(user_id: string): string {
    return this.#core.label(user_id);
  }

  /** The user a name or id stands for, online or seen before. */
  resolve(target: string): Promise<Named & { label: string }> {
    return this.#core.resolve(target);
  }

  /** Everyone known (online now, or seen before), sorted by label. */
  users(): Promise<(Named & { label: string })[]> {
    return this.#core.users();
  }

  /** Asks the server for the online list (in the server's order). */
  list(): Promise<{ user_id: string; label: string; server_id: string }[]> {
    return this.#core.list();
  }

  /** Sends `text` to `target` (online, or seen before) as one DM or numbered parts. */
  async tell(target: string, text: string): Promise<{ to: Contact; refs: string[] }> {
    return await this.#core.tell(target, text);
  }

  /** A user to write to: online, seen before, or (by id) in the server's directory. */
  lookup(target: string): Promise<Contact> {
    return this.#core.recipient(target);
  }

  /** Sends `text` to every other user of the public channel, encrypted for each (§15 P11). */
  async all(text: string): Promise<number> {
    return (await this.#core.sendPublic(text)).sent;
  }

  /** Sends the file at `path` to `target` (an id, a display name, or "all"). */
  async sendFile(
    target: string,
    path: string,
  ): Promise<{ file_id: string; recipients: Contact[] }> {
    const data = await readOutgoing(path);
    return await this.#core.transfer(target === "all" ? "public" : target, basename(path), data);
  }

  /** Saves a received file that waits for acceptance; false if there is none with that id. */
  accept(file_id: string): boolean {
    return this.#core.accept(file_id);
  }

  /** Ids of received files waiting to be accepted. */
  filesWaiting(): string[] {
    return this.#core.filesWaiting();
  }

  /** The last `limit` messages with `target` (an id, a name, or "public"), oldest first. */
  history(target: string, limit?: number): Promise<HistoryEntry[]> {
    return this.#core.history(target, limit);
  }

  /** Accepts a user's changed key after comparing fingerprints with them. */
  trustNewKey(user_id: string): Promise<void> {
    return this.#core.trustNewKey(user_id);
  }

  /** Asks the server's directory for a user's key and compares it with what we know. */
  async whois(target: string): Promise<Extract<ClientEvent, { event: "whois" }>> {
    const user_id = await this.#core.resolve(target).then((u) => u.user_id, () => target);
    const payload = await this.#core.directory(user_id);
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

  /** Says goodbye (CTRL_CLOSE), closes with 1000 and stays closed. */
  async close(): Promise<void> {
    if (this.#closedByUs) return;
    this.#closedByUs = true;
    this.#core.stop("closed");
    await this.options.history?.flushed();
    this.tracer.close();
  }

  #onCore(e: CoreEvent): void {
    const emit = this.options.onEvent;
    switch (e.event) {
      case "ready":
        this.#ready = true;
        this.#first.resolve();
        return emit(e);
      case "error":
        if (!this.#ready) this.#lastError = `${e.code}: ${e.detail}`;
        return emit(e);
      case "connection":
        emit(e);
        return this.#onConnection(e.connection);
      case "file_progress":
        return this.#progress(e);
      case "file_received":
        return void this.#save(e);
      default:
        return emit(e);
    }
  }

  #onConnection(c: Extract<CoreEvent, { event: "connection" }>["connection"]): void {
    if (!this.#ready) {
      if (c.state === "waiting") {
        this.#first.reject(
          new Error(this.#lastError ?? `Cannot connect to ${this.options.url}: ${c.reason}`),
        );
      } else if (c.state === "stopped") this.#first.reject(new Error(this.#lastError ?? c.reason));
      return;
    }
    if (c.state === "waiting" && this.options.reconnect === false) {
      this.#dropped = { code: c.code ?? 1006, reason: c.reason };
      return this.#core.stop(c.reason);
    }
    if (c.state === "stopped") {
      this.options.onEvent({
        event: "closed",
        code: this.#dropped?.code ?? (this.#closedByUs ? 1000 : 4000),
        reason: this.#dropped?.reason ?? c.reason,
      });
    }
  }

  #progress(e: Extract<CoreEvent, { event: "file_progress" }>): void {
    const key = `${e.direction}/${e.file_id}`;
    let meter = this.#meters.get(key);
    if (!meter) {
      const base = { file_id: e.file_id, name: e.name, direction: e.direction, total: e.total };
      meter = new ProgressMeter(
        base,
        () => this.options.clock.now(),
        (p) => this.options.onEvent({ event: "progress", ...p }),
      );
      this.#meters.set(key, meter);
    }
    meter.update(e.done);
    if (e.done >= e.total) this.#meters.delete(key);
  }

  async #save(e: Extract<CoreEvent, { event: "file_received" }>): Promise<void> {
    const { data, ...file } = e;
    try {
      const path = await saveDownload(this.options.downloads, e.name, data);
      this.options.onEvent({ ...file, event: "file_saved", path });
    } catch (err) {
      this.options.onEvent({
        event: "file_failed",
        file_id: e.file_id,
        from: e.from,
        name: e.name,
        reason: `cannot save: ${(err as Error).message}`,
        ts: this.options.clock.now(),
      });
    }
  }
}

function parseQuietly(raw: string): { from?: unknown; to?: unknown; payload?: unknown } {
  try {
    return JSON.parse(raw);
  } catch {
    return {};
  }
}
