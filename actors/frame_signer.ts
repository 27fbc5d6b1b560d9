/**
 * Seals frames this server emits: signs the canonical payload (§5.1) and serialises the
 * envelope. The transport signature covers the payload only, so one payload sent to many links
 * (an advertise to every user) is signed once and the signature reused from a bounded cache.
 * @module
 */
import { canonicalJson } from "../protocol/canonical.ts";
import { b64uEncode } from "../protocol/base64url.ts";
import { SIGNATURE_CACHE_MAX } from "../protocol/limits.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import type { UnsignedFrame } from "./router_messages.ts";

/** Signs and serialises frames as one server. */
export class FrameSigner {
  #cache = new Map<string, Promise<string>>();

  constructor(private readonly backend: RsaBackend, private readonly key: PrivateKey) {}

  /**
   * The wire text of `frame` with this server's `sig`.
   * @param onStart called before the payload is read
   */
  async seal(frame: UnsignedFrame, onStart?: () => void): Promise<string> {
    onStart?.();
    return serialise(frame, await this.signature(frame.payload));
  }

  /** Like `seal`, when the payload was signed (or is being signed) already; else undefined. */
  cachedSeal(frame: UnsignedFrame): Promise<string> | undefined {
    return this.#cached(canonicalJson(frame.payload))?.then((sig) => serialise(frame, sig));
  }

  /** The base64url signature of a payload, from the cache when the same payload was signed. */
  signature(payload: unknown): Promise<string> {
    const text = canonicalJson(payload);
    const hit = this.#cached(text);
    if (hit) return hit;
    const signing = this.backend.sign(this.key, new TextEncoder().encode(text)).then(b64uEncode);
    signing.catch(() => this.#cache.delete(text));
    this.#cache.set(text, signing);
    if (this.#cache.size > SIGNATURE_CACHE_MAX) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    return signing;
  }

  #cached(text: string): Promise<string> | undefined {
    const hit = this.#cache.get(text);
    if (hit) {
      // Refresh its place so the cache evicts the least recently used entry.
      this.#cache.delete(text);
      this.#cache.set(text, hit);
    }
    return hit;
  }
}

/** The envelope of `frame` with `sig`. */
export function serialise(frame: UnsignedFrame, sig: string): string {
  return JSON.stringify({
    type: frame.type,
    from: frame.from,
    to: frame.to,
    ts: frame.ts,
    payload: frame.payload,
    sig,
  });
}
