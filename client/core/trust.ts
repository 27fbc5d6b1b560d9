/**
 * Trust in users' keys: the first key seen for a user is pinned (trust on first use); a
 * different key later is reported and remembered as a change, never adopted until the user
 * trusts it; and a message is checked with the key the directory gives for its sender, not the
 * one it claims.
 * @module
 */
import type { Clock } from "../../lib/world.ts";
import type { ClientCrypto, Memory, PublicKeyLike } from "./ports.ts";

/** A user's key as the session holds it. */
export interface Keyed<K> {
  key: K;
  keyChanged?: { previous: string; current: string };
}

/** Pins `key` for `user_id` if new; the fingerprints when it differs from the pinned one. */
export async function pinUser<K extends PublicKeyLike>(
  { memory, crypto, clock }: { memory: Memory; crypto: ClientCrypto<K>; clock: Clock },
  user_id: string,
  key: K,
  label: string,
): Promise<{ previous: string; current: string } | undefined> {
  const known = await memory.knownKey(user_id);
  const fingerprint = crypto.fingerprint(key);
  if (!known) {
    await memory.saveKnownKey({
      user_id,
      spki: key.spki,
      fingerprint,
      label,
      first_seen: clock.now(),
    });
    return undefined;
  }
  if (known.spki !== key.spki) {
    if (known.changed?.spki !== key.spki) {
      const changed = { spki: key.spki, fingerprint, at: clock.now() };
      await memory.saveKnownKey({ ...known, label, changed });
    }
    return { previous: known.fingerprint, current: fingerprint };
  }
  if (known.changed || known.label !== label) {
    const { changed: _, ...rest } = known;
    await memory.saveKnownKey({ ...rest, label });
  }
  return undefined;
}

/**
 * The key to check a message from a sender with: the directory's key (`known`). A message whose
 * `sender_pub` is another key is not verified; a sender outside the directory is checked with
 * the key it sent, and says so.
 */
export async function senderKey<K extends PublicKeyLike>(
  crypto: ClientCrypto<K>,
  known: Keyed<K> | undefined,
  claimedText: string | undefined,
): Promise<{ key?: K; note?: string }> {
  const claimed = claimedText === undefined ? undefined : await crypto.importPublic(claimedText);
  if (known && claimed?.ok && claimed.key.spki !== known.key.spki) {
    return { note: "it was signed with a key that is not this user's key in the directory" };
  }
  if (known?.keyChanged) return { key: known.key, note: "their key changed and is not confirmed" };
  if (known) return { key: known.key };
  if (claimed?.ok) return { key: claimed.key, note: "the sender is not in the directory" };
  return { note: "the sender's key is unknown" };
}

/** A signature check's outcome in words. */
export function verdict(
  key: unknown,
  good: boolean,
  note: string | undefined,
): { verified: boolean; note?: string } {
  if (key === undefined) return { verified: false, note };
  return good
    ? { verified: true, note }
    : { verified: false, note: "the signature does not match the message" };
}
