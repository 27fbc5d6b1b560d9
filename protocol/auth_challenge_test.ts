// Goal: which `AUTH_CHALLENGE {challenge}` values a user key signs: random bytes of a sane
// length, never a digest-sized value (a layout-C content signature), never text that other
// signatures of the key cover, never one signed before.
import assert from "node:assert/strict";
import { checkChallenge, SignedChallenges } from "./auth_challenge.ts";
import { b64uEncode } from "./base64url.ts";
import { AUTH_CHALLENGES_REMEMBERED_MAX } from "./limits.ts";

const bytes = (n: number) => b64uEncode(new Uint8Array(n).fill(0xa5));
const text = (s: string) => b64uEncode(new TextEncoder().encode(s));

Deno.test("auth challenge: random bytes of 16..256 bytes are signed, as decoded bytes", () => {
  for (const n of [16, 24, 31, 33, 64, 256]) {
    const checked = checkChallenge(bytes(n));
    assert.ok(checked.ok, `${n} bytes`);
    assert.equal(checked.bytes.length, n);
  }
});

Deno.test("auth challenge: refusals name the reason", () => {
  const reason = (c: unknown) => {
    const checked = checkChallenge(c);
    assert.ok(!checked.ok);
    return checked.reason;
  };
  assert.match(reason(42), /not a string/);
  assert.match(reason("not base64!"), /not base64url/);
  assert.match(reason(bytes(15)), /fewer than 16/);
  assert.match(reason(bytes(257)), /more than 256/);
  assert.match(reason(bytes(32)), /SHA-256 digest/);
  assert.match(reason(text('{"user_id":"x","padding":"to be long"}')), /another signature/);
  assert.match(reason(text("SOCP-AUTH|server|user|nonce-nonce")), /another signature/);
});

Deno.test("auth challenge: a repeat is refused; memory is bounded", () => {
  const signed = new SignedChallenges();
  assert.equal(signed.fresh("a"), true);
  assert.equal(signed.fresh("a"), false);
  for (let i = 0; i < AUTH_CHALLENGES_REMEMBERED_MAX; i++) signed.fresh(`c${i}`);
  assert.equal(signed.fresh("a"), true, "the oldest is forgotten past the bound");
});
