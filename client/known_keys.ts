/**
 * Keys this client has seen before (trust on first use): the server's key per URL, pinned from
 * the first ACK (§15 P7), and each user's key. A different key later is reported loudly and the
 * pin is kept, so a silent swap cannot slip by. Beside a server's pin: the content_sig layout
 * learned for it, valid only while the server keeps that key. Beside a user's pin: their name
 * (so someone offline is still found by name) and a changed key not trusted yet. The client
 * core reads and writes all of it through {@linkcode KnownKeys.asMemory}.
 * @module
 */
import { sha256Hex } from "../crypto/hash.ts";
import { b64uDecode } from "../protocol/base64url.ts";
import { writeFileAtomic } from "../lib/write_file.ts";
import { isLayout, type Layout } from "../protocol/content_sig_layout.ts";
import { KNOWN_LABELS_MAX } from "../protocol/limits.ts";
import type { KnownKey, Memory, ServerPin } from "./core/ports.ts";

/** How a key compares with the pin. */
export type PinResult = "new" | "same" | "changed";

/** A fingerprint to compare by eye: SHA-256 of the DER SPKI in groups of four hex digits. */
export function fingerprint(spki: string): string {
  const der = b64uDecode(spki) ?? new TextEncoder().encode(spki);
  return sha256Hex(der).match(/.{4}/g)!.join(" ");
}

/** The layout learned for a server URL, with the server key it was learned under ("" = none). */
export interface LearnedLayout {
  layout: Layout;
  server_key: string;
}

/** What the pins file holds. */
export interface KnownData {
  servers: Record<string, string>;
  users: Record<string, string>;
  layouts?: Record<string, LearnedLayout>;
  /** Users' names, so someone seen before can be addressed by name while offline. */
  labels?: Record<string, string>;
  /** A key a user's directory entry now has, different from the pin and not trusted yet. */
  changed?: Record<string, { spki: string; at: number }>;
}

/** Pins kept in a JSON file beside the keystore. */
export class KnownKeys {
  #data: KnownData;
  /** Saves run one after another, so an older snapshot never lands after a newer one. */
  #saved: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string | undefined, data?: KnownKeys["data"]) {
    this.#data = data ?? { servers: {}, users: {} };
  }

  /** The pins as plain data. */
  get data(): KnownData {
    return this.#data;
  }

  /** Loads pins from `path` (none yet is fine); `undefined` keeps them in memory only. */
  static async load(path: string | undefined): Promise<KnownKeys> {
    if (path === undefined) return new KnownKeys(undefined);
    try {
      return new KnownKeys(path, JSON.parse(await Deno.readTextFile(path)));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new KnownKeys(path);
      throw new TypeError(`Cannot read known keys "${path}": ${(e as Error).message}`);
    }
  }

  /** Compares (and on first sight pins) a server's key. */
  server(url: string, spki: string): Promise<PinResult> {
    return this.#pin(this.#data.servers, url, spki);
  }

  /** Compares (and on first sight pins) a user's key. */
  user(user_id: string, spki: string): Promise<PinResult> {
    return this.#pin(this.#data.users, user_id, spki);
  }

  /** The layout learned for `url` while its server had key `server_key` ("" when unknown). */
  layout(url: string, server_key: string): Layout | undefined {
    const learned = this.#data.layouts?.[url];
    return learned && isLayout(learned.layout) && learned.server_key === server_key
      ? learned.layout
      : undefined;
  }

  /** Remembers the layout DMs through `url` are signed with. */
  async rememberLayout(url: string, server_key: string, layout: Layout): Promise<void> {
    (this.#data.layouts ??= {})[url] = { layout, server_key };
    await this.#save();
  }

  /** Resolves once every pin so far is on disk (the client awaits it before exiting). */
  flushed(): Promise<void> {
    return this.#saved;
  }

  /** The pinned key of a user, if any. */
  pinnedUser(user_id: string): string | undefined {
    return this.#data.users[user_id];
  }

  /** Remembers a user's name (the oldest names are forgotten past a bound). */
  async rememberLabel(user_id: string, label: string): Promise<void> {
    const labels = this.#data.labels ??= {};
    if (labels[user_id] === label) return;
    delete labels[user_id];
    labels[user_id] = label;
    const ids = Object.keys(labels);
    for (const id of ids.slice(0, Math.max(0, ids.length - KNOWN_LABELS_MAX))) delete labels[id];
    await this.#save();
  }

  /** Notes (or, with `undefined`, clears) an untrusted new key of a user. */
  async noteChanged(
    user_id: string,
    changed: { spki: string; at: number } | undefined,
  ): Promise<void> {
    const table = this.#data.changed ??= {};
    if (changed === undefined && table[user_id] === undefined) return;
    if (changed === undefined) delete table[user_id];
    else table[user_id] = changed;
    await this.#save();
  }

  /** Replaces a user's pin (after the user checked and trusted the new key). */
  async repin(user_id: string, spki: string): Promise<void> {
    this.#data.users[user_id] = spki;
    await this.#save();
  }

  /** These pins as the client core's {@linkcode Memory}. */
  asMemory(): Memory {
    return new KnownKeysMemory(this);
  }

  async #pin(table: Record<string, string>, name: string, spki: string): Promise<PinResult> {
    const before = table[name];
    if (before === spki) return "same";
    if (before !== undefined) return "changed";
    table[name] = spki;
    await this.#save();
    return "new";
  }

  async #save(): Promise<void> {
    const path = this.path;
    if (!path) return;
    const save = this.#saved.then(() =>
      writeFileAtomic(path, JSON.stringify(this.#data, null, 2) + "\n", { mode: 0o600 })
    );
    this.#saved = save.catch(() => {});
    await save;
  }
}

/** The client core's memory over the pins file: user pins, names, server pins and layouts. */
class KnownKeysMemory implements Memory {
  constructor(private readonly known: KnownKeys) {}

  knownKey(user_id: string): Promise<KnownKey | undefined> {
    const data = this.known.data;
    const spki = data.users[user_id];
    if (spki === undefined) return Promise.resolve(undefined);
    const changed = data.changed?.[user_id];
    const key: KnownKey = {
      user_id,
      spki,
      fingerprint: fingerprint(spki),
      label: data.labels?.[user_id] ?? user_id,
      first_seen: 0,
    };
    if (changed) key.changed = { ...changed, fingerprint: fingerprint(changed.spki) };
    return Promise.resolve(key);
  }

  async saveKnownKey(key: KnownKey): Promise<void> {
    const pinned = this.known.pinnedUser(key.user_id);
    if (pinned === undefined) await this.known.user(key.user_id, key.spki);
    else if (pinned !== key.spki) await this.known.repin(key.user_id, key.spki);
    if (key.label !== key.user_id) await this.known.rememberLabel(key.user_id, key.label);
    await this.known.noteChanged(
      key.user_id,
      key.changed && { spki: key.changed.spki, at: key.changed.at },
    );
  }

  serverPin(url: string): Promise<ServerPin | undefined> {
    const spki = this.known.data.servers[url] ?? "";
    const layout = this.known.layout(url, spki);
    if (spki === "" && layout === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      url,
      server_id: "",
      spki,
      fingerprint: spki ? fingerprint(spki) : "",
      ...(layout ? { content_sig: layout } : {}),
    });
  }

  async saveServerPin(pin: ServerPin): Promise<void> {
    // A pin is never replaced here: a changed server key is reported on every connection.
    if (pin.spki !== "") await this.known.server(pin.url, pin.spki);
    if (pin.content_sig) await this.known.rememberLayout(pin.url, pin.spki, pin.content_sig);
  }

  knownKeys(): Promise<KnownKey[]> {
    const data = this.known.data;
    return Promise.resolve(
      Object.entries(data.labels ?? {}).filter(([id]) => data.users[id] !== undefined).map((
        [user_id, label],
      ) => ({
        user_id,
        spki: data.users[user_id]!,
        fingerprint: "",
        label,
        first_seen: 0,
      })),
    );
  }
}
