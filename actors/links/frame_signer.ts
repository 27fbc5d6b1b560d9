/**
 * Seals frames this server emits: signs the canonical payload (§5.1) and serialises the
 * envelope. The transport signature covers the payload only, so one payload sent to many links
 * (an advertise to every user) is signed once and the signature reused from a bounded cache.
 *
 * On a big server most frames are such repeats (a hello is answered with one advertise per
 * user; each newcomer is announced to every user), and the canonical text that keys the cache
 * costs more than the rest: so one frame object sent to many links is sealed once, and a
 * payload object seen before finds its signature without being serialised again. Frames and
 * payloads are never changed once sent (an ACK batch grows only until its signing starts).
 * @module
 */
import { canonicalJson } from "../../protocol/canonical.ts";
import { b64uEncode } from "../../protocol/base64url.ts";
import { SIGNATURE_CACHE_MAX } from "../../protocol/limits.ts";
import { LruMap } from "../../lib/lru.ts";
import type { PrivateKey, RsaBackend } from "../../crypto/types.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

/**
 * Frames whose payload is never sent twice (a delivery carries its own ciphertext, an ACK its
 * refs): looking their text up in the cache and keeping it there would only cost time and
 * memory (at full load 16 384 texts of about 1.5 KB, held for nothing).
 */
const ONE_OFF = new Set(["USER_DELIVER", "SERVER_DELIVER", "ACK"]);

/** Signs and serialises frames as one server. */
export class FrameSigner {
  /** Signatures by canonical payload text, least recently used evicted. */
  #cache = new LruMap<string, Promise<string>>(SIGNATURE_CACHE_MAX);
  /** Signatures by payload object. */
  #byPayload = new WeakMap<object, Promise<string>>();
  /** Wire texts by frame object. */
  #sealed = new WeakMap<UnsignedFrame, Promise<string>>();
  /** Canonical texts `cachedSeal` made and did not find, for the signature that follows. */
  #texts = new WeakMap<object, string>();

  constructor(private readonly backend: RsaBackend, private readonly key: PrivateKey) {}

  /**
   * The wire text of `frame` with this server's `sig`.
   * @param onStart called before the payload is read
   */
  seal(frame: UnsignedFrame, onStart?: () => void): Promise<string> {
    onStart?.();
    return this.#sealed.get(frame) ??
      this.#remember(frame, this.signature(frame.payload, !ONE_OFF.has(frame.type)));
  }

  /**
   * Like `seal`, when the payload was signed (or is being signed) already; else undefined.
   * @param settled the frame stays as it is until sealed: its canonical text is kept for that
   */
  cachedSeal(frame: UnsignedFrame, settled = false): Promise<string> | undefined {
    const sealed = this.#sealed.get(frame);
    if (sealed) return sealed;
    let sig = this.#byPayload.get(frame.payload);
    if (!sig && !ONE_OFF.has(frame.type)) {
      const text = canonicalJson(frame.payload);
      sig = this.#cache.get(text);
      if (!sig && settled) this.#texts.set(frame.payload, text);
    }
    return sig && this.#remember(frame, sig);
  }

  /**
   * The base64url signature of a payload, from the cache when the same payload was signed.
   * @param cache false for a payload never sent twice: signed without the cache
   */
  signature(payload: object, cache = true): Promise<string> {
    const known = this.#byPayload.get(payload);
    if (known) return known;
    const text = this.#texts.get(payload) ?? canonicalJson(payload);
    this.#texts.delete(payload);
    let signing = cache ? this.#cache.get(text) : undefined;
    if (!signing) {
      signing = this.backend.sign(this.key, new TextEncoder().encode(text)).then(b64uEncode);
      if (cache) {
        signing.catch(() => this.#cache.delete(text));
        this.#cache.set(text, signing);
      }
    }
    this.#byPayload.set(payload, signing);
    signing.catch(() => this.#byPayload.delete(payload));
    return signing;
  }

  #remember(frame: UnsignedFrame, sig: Promise<string>): Promise<string> {
    const sealed = sig.then((s) => serialise(frame, s));
    sealed.catch(() => this.#sealed.delete(frame));
    this.#sealed.set(frame, sealed);
    return sealed;
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
