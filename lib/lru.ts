/**
 * A map bounded to `max` entries that evicts the least recently used one. A `Map` iterates in
 * insertion order, so a hit re-inserts its entry at the end and the first entry is the oldest.
 * @module
 */
export class LruMap<K, V> {
  #entries = new Map<K, V>();

  constructor(readonly max: number) {}

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The value for `key`, which becomes the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Stores `value` as the most recently used, evicting the least recently used past `max`. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }
}
