/**
 * base64url as SOCP uses it: we emit unpadded base64url, and accept padded input and the
 * standard alphabet too (SOCP-1.3.md §5.3), because some peers send those.
 * @module
 */

const STRICT = /^[A-Za-z0-9\-_+/]*={0,2}$/;
const URL_ONLY = /^[A-Za-z0-9\-_]*={0,2}$/;

/** Encodes bytes as unpadded base64url (every signature and ciphertext: the engine's codec). */
export function b64uEncode(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Decodes base64url or standard base64, padded or not. Returns `undefined` for anything else,
 * so untrusted input never throws.
 */
export function b64uDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (URL_ONLY.test(text)) {
    // What we and most peers send; the engine's decoder, loose about missing padding as below.
    const bare = text.slice(0, unpaddedLength(text));
    if (bare.length % 4 === 1) return undefined;
    try {
      return Uint8Array.fromBase64(bare, { alphabet: "base64url" });
    } catch {
      return undefined;
    }
  }
  if (!STRICT.test(text)) return undefined;
  let s = text.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (s.length % 4 === 1) return undefined;
  s += "=".repeat((4 - (s.length % 4)) % 4);
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/**
 * True when `text` decodes as base64url or base64: the test {@linkcode b64uDecode} makes before it
 * decodes, without the bytes (every ciphertext and signature a frame carries is checked so).
 */
export function isB64(text: string): boolean {
  return STRICT.test(text) && unpaddedLength(text) % 4 !== 1;
}

/** Length of `text` without its trailing `=` (at most two, as both patterns allow). */
function unpaddedLength(text: string): number {
  let n = text.length;
  while (n > 0 && text.charCodeAt(n - 1) === 0x3d) n--;
  return n;
}
