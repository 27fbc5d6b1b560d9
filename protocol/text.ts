/**
 * Splitting text into pieces that each fit one RSA-OAEP block, on code-point boundaries, so a
 * long message becomes several DMs in order and is never truncated (§5.3).
 * @module
 */
import { OAEP_PLAINTEXT_BYTES_MAX } from "./limits.ts";

/** Splits `text` into UTF-8 pieces of at most `max` bytes without breaking a character. */
export function splitUtf8(text: string, max = OAEP_PLAINTEXT_BYTES_MAX): Uint8Array[] {
  const encoder = new TextEncoder();
  const pieces: Uint8Array[] = [];
  let current: number[] = [];
  for (const ch of text) {
    const bytes = encoder.encode(ch);
    if (current.length + bytes.length > max) {
      pieces.push(Uint8Array.from(current));
      current = [];
    }
    current.push(...bytes);
  }
  if (current.length > 0 || pieces.length === 0) pieces.push(Uint8Array.from(current));
  return pieces;
}
