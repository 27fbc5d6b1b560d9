/**
 * The browser client's key memory kept in Maps, for tests that drive web/src/session.ts
 * without a browser (the page keeps it in IndexedDB).
 * @module
 */
import type { KnownKey, Memory, ServerPin } from "../../web/src/session.ts";

/** {@linkcode Memory} in Maps. */
export class MapMemory implements Memory {
  keys = new Map<string, KnownKey>();
  pins = new Map<string, ServerPin>();
  knownKey(id: string) {
    return Promise.resolve(this.keys.get(id));
  }
  saveKnownKey(k: KnownKey) {
    this.keys.set(k.user_id, structuredClone(k));
    return Promise.resolve();
  }
  knownKeys() {
    return Promise.resolve([...this.keys.values()].map((k) => structuredClone(k)));
  }
  serverPin(url: string) {
    return Promise.resolve(this.pins.get(url));
  }
  saveServerPin(p: ServerPin) {
    this.pins.set(p.url, structuredClone(p));
    return Promise.resolve();
  }
}
