/**
 * Imported user keys, shared by all links and bounded (least recently used evicted). A user
 * link keeps only its key's SPKI text (~740 bytes), not an imported OpenSSL key (~16 KiB of
 * native memory once used), so an idle user costs that much less; a key is imported again
 * only when a user it was evicted for sends a signed frame.
 * @module
 */
import type { PublicKey, RsaBackend } from "../../crypto/types.ts";
import { LruMap } from "../../lib/lru.ts";

/** Imported public keys by SPKI. */
export class KeyCache {
  #keys: LruMap<string, Promise<PublicKey | undefined>>;

  constructor(private readonly backend: RsaBackend, readonly max: number) {
    this.#keys = new LruMap(max);
  }

  /** Imported keys held. */
  get size(): number {
    return this.#keys.size;
  }

  /** Keeps a key just imported (and validated) for later frames. */
  put(key: PublicKey): void {
    this.#keys.set(key.spki, Promise.resolve(key));
  }

  /** The imported key for `spki`, importing it again if it was evicted. */
  get(spki: string): Promise<PublicKey | undefined> {
    const hit = this.#keys.get(spki);
    if (hit) return hit;
    const imported = this.backend.importPublic(spki).then((r) => (r.ok ? r.key : undefined));
    this.#keys.set(spki, imported);
    return imported;
  }
}
