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

/** `verifyPayload`, answered from the cache when this exact signature verified before. */
export async function verifyPayloadCached(
  backend: RsaBackend,
  key: PublicKey,
  payload: object,
  sig: string,
): Promise<boolean> {
  const { text, hex } = payloadDigest(payload);
  const id = `${key.spki}|${sig}|${hex}`;
  if (verified.has(id)) return true;
  if (!(await verifyPayload(backend, key, payload, sig, new TextEncoder().encode(text)))) {
    return false;
  }
  verified.set(id, true);
  if (verified.size > VERIFY_CACHE_MAX) verified.delete(verified.keys().next().value!);
  return true;
}

/** Entries cached (for metrics and tests). */
export function verifyCacheSize(): number {
  return verified.size;
}
