// Goal: we emit unpadded base64url and accept padded and standard-alphabet input (§5.3).
import assert from "node:assert/strict";
import { b64uDecode, b64uEncode, isB64 } from "./base64url.ts";

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

/** The decoding of `text` by `atob`, after the standard alphabet and padding are restored. */
function viaAtob(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9\-_+/]*={0,2}$/.test(text)) return undefined;
  let s = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (s.length % 4 === 1) return undefined;
  s += "=".repeat((4 - (s.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

Deno.test("isB64() and b64uDecode() agree with atob on every alphabet and padding", () => {
  const alphabet = "AB-_+/=a*é ";
  const samples = ["", "-_8", "-_8==", "+_8=", "ab=c", "a", "abcde", "AAAA=", "AA===", "A==="];
  for (let i = 0; i < 2000; i++) {
    const n = Math.floor(Math.random() * 9);
    samples.push(
      Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * 11)]).join(""),
    );
  }
  for (const s of samples) {
    const expected = viaAtob(s);
    assert.deepEqual(b64uDecode(s), expected, JSON.stringify(s));
    assert.equal(isB64(s), expected !== undefined, JSON.stringify(s));
  }
});
