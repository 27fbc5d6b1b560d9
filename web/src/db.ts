/**
 * What the page keeps in IndexedDB: the encrypted keystore (never the clear key), the display
 * name, the keys of users seen before (trust on first use), the server key per URL, and each
 * user's message history (encrypted: client/core/history.ts). Falls back to memory, with a
 * warning, when IndexedDB is unavailable (some private modes).
 * @module
 */
import type { KeystoreFile } from "./keystore.ts";
import type { KnownKey, Memory, ServerPin } from "./session.ts";
import type { HistoryStore } from "../../client/core/history.ts";

/** The stored identity. */
export interface StoredIdentity {
  keystore: KeystoreFile;
  display_name: string;
}

/** Database name and stores; the tests read and seed them through the page. */
export const DB_NAME = "socp-web";
const STORES = ["identity", "known_keys", "servers", "history"] as const;
type StoreName = (typeof STORES)[number];

/** A tiny promise wrapper over IndexedDB (or a Map when IndexedDB is missing). */
export class Storage implements Memory {
  private constructor(
    private readonly db: IDBDatabase | undefined,
    private readonly fallback = new Map<string, unknown>(),
  ) {}

  /** True when data survives a reload. */
  get persistent(): boolean {
    return this.db !== undefined;
  }

  static async open(): Promise<Storage> {
    try {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 2);
        request.onupgradeneeded = () => {
          for (const name of STORES) {
            if (!request.result.objectStoreNames.contains(name)) {
              request.result.createObjectStore(name);
            }
          }
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
        request.onblocked = () => reject(new Error("database blocked by another tab"));
      });
      return new Storage(db);
    } catch {
      return new Storage(undefined);
    }
  }

  async identity(): Promise<StoredIdentity | undefined> {
    return await this.#get<StoredIdentity>("identity", "current");
  }

  async saveIdentity(identity: StoredIdentity): Promise<void> {
    await this.#put("identity", "current", identity);
  }

  async forgetIdentity(): Promise<void> {
    await this.#delete("identity", "current");
  }

  async knownKey(user_id: string): Promise<KnownKey | undefined> {
    return await this.#get<KnownKey>("known_keys", user_id);
  }

  async saveKnownKey(key: KnownKey): Promise<void> {
    await this.#put("known_keys", key.user_id, key);
  }

  async knownKeys(): Promise<KnownKey[]> {
    if (!this.db) {
      return [...this.fallback.entries()].filter(([k]) => k.startsWith("known_keys/")).map((
        [, v],
      ) => v as KnownKey);
    }
    return await this.#run<KnownKey[]>("known_keys", "readonly", (s) => s.getAll());
  }

  /** Where `user_id`'s encrypted history is kept. */
  historyStore(user_id: string): HistoryStore {
    return {
      load: () => this.#get<string>("history", user_id),
      save: (text) => this.#put("history", user_id, text),
    };
  }

  async serverPin(url: string): Promise<ServerPin | undefined> {
    return await this.#get<ServerPin>("servers", url);
  }

  async saveServerPin(pin: ServerPin): Promise<void> {
    await this.#put("servers", pin.url, pin);
  }

  async #get<T>(store: StoreName, key: string): Promise<T | undefined> {
    if (!this.db) return this.fallback.get(`${store}/${key}`) as T | undefined;
    return await this.#run<T | undefined>(store, "readonly", (s) => s.get(key));
  }

  async #put(store: StoreName, key: string, value: unknown): Promise<void> {
    if (!this.db) return void this.fallback.set(`${store}/${key}`, value);
    await this.#run(store, "readwrite", (s) => s.put(value, key));
  }

  async #delete(store: StoreName, key: string): Promise<void> {
    if (!this.db) return void this.fallback.delete(`${store}/${key}`);
    await this.#run(store, "readwrite", (s) => s.delete(key));
  }

  #run<T>(
    store: StoreName,
    mode: IDBTransactionMode,
    op: (s: IDBObjectStore) => IDBRequest,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const tx = this.db!.transaction(store, mode);
      const request = op(tx.objectStore(store));
      tx.oncomplete = () => resolve(request.result as T);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
    });
  }
}
