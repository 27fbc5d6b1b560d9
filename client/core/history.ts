/**
 * Local message history, encrypted at rest. The messages are one AES-256-GCM blob (WebCrypto, a
 * fresh 96-bit IV per save) under a random history key; that key is stored beside them wrapped
 * with RSA-OAEP under the user's own public key, so only the keystore's private key opens the
 * history and no passphrase-derived secret has to leave the keystore. The blob is written whole
 * through a {@linkcode HistoryStore} (a file written atomically, or IndexedDB); saves are
 * coalesced, so a burst of messages costs one write. Bounded per conversation and in
 * conversations (least recently written dropped first).
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import {
  HISTORY_CONVERSATIONS_MAX,
  HISTORY_PER_CONVERSATION_MAX,
  HISTORY_TEXT_MAX,
} from "../../protocol/limits.ts";

const FORMAT = "socp-history-v1";

/** One stored message. */
export interface HistoryEntry {
  ts: number;
  from: string;
  to: string;
  text: string;
  /** Whether it was received with a verified signature (always true for our own). */
  verified: boolean;
}

/** Where the encrypted history lives (a file beside the keystore, or browser storage). */
export interface HistoryStore {
  load(): Promise<string | undefined>;
  /** Replaces the stored text atomically. */
  save(text: string): Promise<void>;
}

/** How much a history keeps. */
export interface HistoryLimits {
  perConversation: number;
  conversations: number;
  /** Characters of text over all conversations. */
  text: number;
}

const LIMITS: HistoryLimits = {
  perConversation: HISTORY_PER_CONVERSATION_MAX,
  conversations: HISTORY_CONVERSATIONS_MAX,
  text: HISTORY_TEXT_MAX,
};

/** The user's own RSA key, to wrap and unwrap the history key. */
export interface KeyWrap {
  wrap(raw: Uint8Array): Promise<Uint8Array>;
  /** `undefined` when the bytes were not wrapped for this key. */
  unwrap(wrapped: Uint8Array): Promise<Uint8Array | undefined>;
}

/** The history cannot be opened with this key (another user's file, or damaged). */
export class HistoryError extends Error {}

interface Stored {
  format: string;
  wrapped_key: string;
  iv: string;
  data: string;
}

/** An open history. */
export class History {
  #saving: Promise<void> = Promise.resolve();
  #dirty = false;

  private constructor(
    private readonly store: HistoryStore,
    private readonly key: CryptoKey,
    private readonly wrapped: string,
    private readonly conversations: Map<string, HistoryEntry[]>,
    private readonly limits: HistoryLimits,
  ) {}

  /** Opens (or starts) the history in `store`; throws {@linkcode HistoryError} if unreadable. */
  static async open(
    store: HistoryStore,
    wrap: KeyWrap,
    limits: HistoryLimits = LIMITS,
  ): Promise<History> {
    const text = await store.load();
    if (text === undefined) {
      const raw = crypto.getRandomValues(new Uint8Array(32));
      const wrapped = b64uEncode(await wrap.wrap(raw));
      const key = await aesKey(raw);
      return new History(store, key, wrapped, new Map(), limits);
    }
    const stored = parseStored(text);
    const raw = await wrap.unwrap(b64uDecode(stored.wrapped_key) ?? new Uint8Array());
    if (raw?.length !== 32) throw new HistoryError("the history was not written with this key");
    const key = await aesKey(raw);
    raw.fill(0);
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes(stored.iv) },
        key,
        bytes(stored.data),
      );
    } catch {
      throw new HistoryError("the history is damaged: it does not decrypt");
    }
    const data = JSON.parse(new TextDecoder().decode(plain)) as Record<string, HistoryEntry[]>;
    return new History(store, key, stored.wrapped_key, new Map(Object.entries(data)), limits);
  }

  /** Adds a message to conversation `name` (a user id, or "public") and schedules a save. */
  add(name: string, entry: HistoryEntry): void {
    const list = this.conversations.get(name) ?? [];
    this.conversations.delete(name);
    list.push(entry);
    if (list.length > this.limits.perConversation) {
      list.splice(0, list.length - this.limits.perConversation);
    }
    this.conversations.set(name, list);
    while (this.conversations.size > this.limits.conversations) {
      this.conversations.delete(this.conversations.keys().next().value!);
    }
    this.#trimText();
    this.#schedule();
  }

  /** Drops the oldest messages, least recently written conversation first, past the text bound. */
  #trimText(): void {
    let total = 0;
    for (const list of this.conversations.values()) for (const e of list) total += e.text.length;
    for (const [name, list] of this.conversations) {
      while (total > this.limits.text && list.length > 0) total -= list.shift()!.text.length;
      if (list.length === 0) this.conversations.delete(name);
      if (total <= this.limits.text) return;
    }
  }

  /** The last `limit` messages of conversation `name`, oldest first. */
  history(name: string, limit = 20): HistoryEntry[] {
    const list = this.conversations.get(name) ?? [];
    return list.slice(Math.max(0, list.length - limit));
  }

  /** Names of the stored conversations, most recently written last. */
  names(): string[] {
    return [...this.conversations.keys()];
  }

  /** Resolves once everything added so far is stored. */
  async flushed(): Promise<void> {
    while (this.#dirty) await this.#saving;
    await this.#saving;
  }

  #schedule(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    this.#saving = this.#saving.then(async () => {
      this.#dirty = false;
      await this.store.save(await this.#seal());
    }).catch(() => {
      // A failed write leaves the previous file whole; the next message tries again.
    });
  }

  async #seal(): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = new TextEncoder().encode(JSON.stringify(Object.fromEntries(this.conversations)));
    const data = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.key, plain),
    );
    const stored: Stored = {
      format: FORMAT,
      wrapped_key: this.wrapped,
      iv: b64uEncode(iv),
      data: b64uEncode(data),
    };
    return JSON.stringify(stored);
  }
}

function parseStored(text: string): Stored {
  let v: Partial<Stored>;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HistoryError("the history is damaged: it is not JSON");
  }
  if (
    v?.format !== FORMAT || typeof v.wrapped_key !== "string" || typeof v.iv !== "string" ||
    typeof v.data !== "string"
  ) throw new HistoryError(`the history is not in the ${FORMAT} format`);
  return v as Stored;
}

function bytes(text: string): Uint8Array<ArrayBuffer> {
  const b = b64uDecode(text);
  if (!b) throw new HistoryError("the history is damaged: bad base64url");
  return new Uint8Array(b);
}

async function aesKey(raw: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey("raw", new Uint8Array(raw), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}
