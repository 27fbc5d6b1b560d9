// Goal: we emit unpadded base64url and accept padded and standard-alphabet input (§5.3).
import assert from "node:assert/strict";
import { b64uDecode, b64uEncode } from "./base64url.ts";

Deno.test("b64uEncode() emits unpadded base64url", () => {
  assert.equal(b64uEncode(new Uint8Array([0xfb, 0xff])), "-_8");
  assert.equal(b64uEncode(new Uint8Array([])), "");
});

Deno.test("b64uDecode() accepts padded, unpadded, url and standard alphabets", () => {
  for (const s of ["-_8", "-_8=", "-_8==", "+/8", "+/8=", "-/8", "+_8="]) {
    assert.deepEqual(b64uDecode(s), new Uint8Array([0xfb, 0xff]));
  }
});

Deno.test("b64uDecode() returns undefined for junk instead of throwing", () => {
  for (const s of ["***", "a", "ab=c", "é", "abcde", "ab cd", "ab\ncd"]) {
    assert.equal(b64uDecode(s), undefined, s);
  }
});

Deno.test("b64uDecode() round-trips random bytes", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    assert.deepEqual(b64uDecode(b64uEncode(bytes)), bytes);
  }
});
