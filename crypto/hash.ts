/**
 * SHA-256 helpers. Synchronous (`node:crypto` `createHash`) on purpose: content_sig preimages
 * (variant C hashes variant B) are then built by pure, synchronous functions, and hashing a few
 * hundred bytes is far cheaper than a round trip through `crypto.subtle`'s promise.
 * @module
 */

import { createHash } from "node:crypto";

/** SHA-256 digest of `bytes` (32 bytes). */
export function sha256(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** Lower-case hex SHA-256 of `bytes` (64 characters), as file manifests carry it. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
