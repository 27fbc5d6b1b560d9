/**
 * base64url as SOCP uses it: we emit unpadded base64url, and accept padded input and the
 * standard alphabet too (SOCP-1.3.md §5.3), because some peers send those.
 * @module
 */

/** Either alphabet, padded or not (the length is checked apart). */
const EITHER = /^[A-Za-z0-9\-_+/]*={0,2}$/;

/** Encodes bytes as unpadded base64url (every signature and ciphertext: the engine's codec). */
export function b64uEncode(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/**
 * Decodes base64url or standard base64, padded or not. Returns `undefined` for anything else,
 * so untrusted input never throws.
 */
export function b64uDecode(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!isB64(text)) return undefined;
  // The standard alphabet's two letters as base64url spells them; the engine's decoder is loose
  // about missing padding.
  const bare = text.slice(0, unpaddedLength(text)).replace(/\+/g, "-").replace(/\//g, "_");
  try {
    return Uint8Array.fromBase64(bare, { alphabet: "base64url" });
  } catch {
    return undefined;
  }
}

/**
 * True when `text` decodes as base64url or base64, found without decoding it (every ciphertext
 * and signature a frame carries is checked so): one character short of a byte cannot be.
 */
export function isB64(text: string): boolean {
  return EITHER.test(text) && unpaddedLength(text) % 4 !== 1;
}

/** Length of `text` without its trailing `=` (at most two pass `EITHER`). */
function unpaddedLength(text: string): number {
  let n = text.length;
  while (n > 0 && text.charCodeAt(n - 1) === 0x3d) n--;
  return n;
}
