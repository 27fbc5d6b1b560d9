/**
 * `AUTH_CHALLENGE {challenge}` (a server dialect): the user signs the raw challenge bytes with
 * PSS, nothing else bound in. The user key also signs content signatures, so a challenge is
 * signed only when it cannot be the preimage of anything else that key signs: a layout-C
 * content signature (a 32-byte SHA-256 digest), a layout-B one (512 ciphertext bytes and more),
 * a canonical JSON payload, a manifest, or our own `SOCP-AUTH|…` proof. A challenge seen before
 * is refused too: a server that repeats its nonce is not proving freshness. Pure; shared by the
 * terminal and the browser client.
 * @module
 */
import { b64uDecode } from "./base64url.ts";
import {
  AUTH_CHALLENGE_BYTES_MAX,
  AUTH_CHALLENGE_BYTES_MIN,
  AUTH_CHALLENGES_REMEMBERED_MAX,
} from "./limits.ts";

/** Length of a SHA-256 digest: what a layout-C content signature signs. */
const DIGEST_BYTES = 32;

/** The bytes to sign, or why the challenge is refused. */
export type ChallengeCheck =
  | { ok: true; bytes: Uint8Array<ArrayBuffer> }
  | { ok: false; reason: string };

/** Decides whether a challenge may be signed. */
export function checkChallenge(challenge: unknown): ChallengeCheck {
  if (typeof challenge !== "string") return refuse("the challenge is not a string");
  const bytes = b64uDecode(challenge);
  if (bytes === undefined) return refuse("the challenge is not base64url");
  if (bytes.length < AUTH_CHALLENGE_BYTES_MIN) {
    return refuse(
      `the challenge has ${bytes.length} bytes, fewer than ${AUTH_CHALLENGE_BYTES_MIN}`,
    );
  }
  if (bytes.length > AUTH_CHALLENGE_BYTES_MAX) {
    return refuse(`the challenge has ${bytes.length} bytes, more than ${AUTH_CHALLENGE_BYTES_MAX}`);
  }
  if (bytes.length === DIGEST_BYTES) {
    return refuse(
      "a 32-byte challenge could be a SHA-256 digest, i.e. a layout-C content signature",
    );
  }
  if (looksStructured(bytes)) {
    return refuse("the challenge is text another signature of this key could cover");
  }
  return { ok: true, bytes };
}

/** Challenges already signed, bounded: a repeated one is refused. */
export class SignedChallenges {
  #seen = new Set<string>();

  /** True (and remembered) the first time; false for a repeat. */
  fresh(challenge: string): boolean {
    if (this.#seen.has(challenge)) return false;
    this.#seen.add(challenge);
    if (this.#seen.size > AUTH_CHALLENGES_REMEMBERED_MAX) {
      this.#seen.delete(this.#seen.values().next().value!);
    }
    return true;
  }
}

function refuse(reason: string): ChallengeCheck {
  return { ok: false, reason };
}

/** JSON (payloads, manifests, layout D) or our own proof text: never random bytes. */
function looksStructured(bytes: Uint8Array): boolean {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  const trimmed = text.trim();
  return trimmed.startsWith("{") || trimmed.startsWith("[") || trimmed.startsWith("SOCP-AUTH|");
}
