/**
 * Keys this client has seen before (trust on first use): the server's key per URL, pinned from
 * the first ACK (§15 P7), and each user's key. A different key later is reported loudly and the
 * pin is kept, so a silent swap cannot slip by. Beside a server's pin: the content_sig layout
 * learned for it, valid only while the server keeps that key.
 * @module
 */
import { sha256Hex } from "../crypto/hash.ts";
import { b64uDecode } from "../protocol/base64url.ts";
import { writeFileAtomic } from "../lib/write_file.ts";
import { isLayout, type Layout } from "../protocol/content_sig_layout.ts";

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
