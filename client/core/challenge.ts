/**
 * Proving to a server that we hold our key. Our servers send `AUTH_CHALLENGE {nonce}`: the
 * proof is bound to the server, the user and the nonce (§15 P15) and answered with
 * AUTH_RESPONSE. A dialect sends `{challenge}` and wants PSS over its raw bytes, answered with
 * AUTH_PROOF; signed only when those bytes cannot stand for another signature of this key and
 * were never signed before (protocol/auth_challenge.ts).
 * @module
 */
import { b64uEncode } from "../../protocol/base64url.ts";
import { checkChallenge, type SignedChallenges } from "../../protocol/auth_challenge.ts";
import { authMessage } from "../../protocol/auth_message.ts";
import type { ClientCrypto, PublicKeyLike } from "./ports.ts";
import { type Frame, str } from "./wire.ts";

/** The frame to answer with, or why not; `note` says what happened, for a trace. */
export type ChallengeAnswer =
  | { type: "AUTH_RESPONSE" | "AUTH_PROOF"; payload: Record<string, unknown>; note: string }
  | { refusal: string; note: string };

/** The answer to AUTH_CHALLENGE `frame` from the server, for user `user_id`. */
export async function answerChallenge<K extends PublicKeyLike>(
  crypto: ClientCrypto<K>,
  signed: SignedChallenges,
  user_id: string,
  frame: Frame,
): Promise<ChallengeAnswer> {
  const nonce = str(frame.payload, "nonce", 256);
  if (nonce) {
    const signature = b64uEncode(await crypto.sign(authMessage(frame.from, user_id, nonce)));
    return {
      type: "AUTH_RESPONSE",
      payload: { nonce, signature },
      note: "AUTH_CHALLENGE {nonce} answered",
    };
  }
  const challenge = str(frame.payload, "challenge", 1024);
  const checked = checkChallenge(challenge);
  const refusal = !checked.ok
    ? checked.reason
    : !signed.fresh(challenge!)
    ? "this challenge was signed before: a server must send a fresh one"
    : undefined;
  if (refusal !== undefined || !checked.ok) {
    const reason = refusal ?? "unusable challenge";
    return { refusal: reason, note: `AUTH_CHALLENGE {challenge} refused: ${reason}` };
  }
  const signature = b64uEncode(await crypto.sign(checked.bytes));
  return {
    type: "AUTH_PROOF",
    payload: { challenge: challenge!, signature },
    note: `AUTH_CHALLENGE {challenge}: ${checked.bytes.length} bytes signed`,
  };
}
