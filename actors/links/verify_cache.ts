/**
 * Remembers transport signatures that verified, so a gossiped frame reaching us over several
 * links is checked once. Safe by construction: the key is (public key, signature, hash of the
 * canonical payload), verification is a pure function of exactly those, and only successes are
 * kept, so a cache hit can never accept anything a fresh check would refuse.
 * @module
 */
import { verifyPayload } from "../../crypto/signing.ts";
import type { PublicKey, RsaBackend } from "../../crypto/types.ts";
import { VERIFY_CACHE_MAX } from "../../protocol/limits.ts";
import { payloadDigest } from "../router/router_messages.ts";

const verified = new Map<string, true>();

/** The parts of a frame its transport signature check reads. */
export interface SignedFrame {
  to: string;
  payload: object;
  sig: string;
}

/**
 * `verifyPayload` of a frame's signature, answered from the cache when this exact signature
 * verified before. Only broadcasts (`to: "*"`) are looked up and remembered: gossip reaches us
 * over several links, while a frame addressed to one server comes over one link only, so
 * remembering it would cost a key and a slot without ever saving a check.
 */
export async function verifyFrameCached(
  backend: RsaBackend,
  key: PublicKey,
  { to, payload, sig }: SignedFrame,
): Promise<boolean> {
  const { text, hex } = payloadDigest(payload);
  const id = to === "*" ? `${key.spki}|${sig}|${hex}` : undefined;
  if (id !== undefined && verified.has(id)) return true;
  if (!(await verifyPayload(backend, key, payload, sig, new TextEncoder().encode(text)))) {
    return false;
  }
  if (id === undefined) return true;
  verified.set(id, true);
  if (verified.size > VERIFY_CACHE_MAX) verified.delete(verified.keys().next().value!);
  return true;
}

/** Entries cached (for metrics and tests). */
export function verifyCacheSize(): number {
  return verified.size;
}
