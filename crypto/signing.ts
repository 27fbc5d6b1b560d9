/**
 * Signing and verifying SOCP signatures over an {@linkcode RsaBackend}: the transport `sig` over
 * the canonical payload (§5.1, §15 P3) and the `content_sig` variants (§5.2, §15 P4, P12).
 * Send strictly (one form), accept liberally (every form peers are known to use). Signatures are
 * base64url strings; a verifier given anything undecodable answers `false`/`undefined`.
 * @module
 */

import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalBytes, hasNonAscii } from "../protocol/canonical.ts";
import {
  type ContentSigVariant,
  type DmContent,
  dmPreimages,
  type FileManifest,
  keySharePreimages,
  manifestBytes,
  type Preimages,
  type PublicContent,
  publicPreimages,
} from "./preimages.ts";
import type { PrivateKey, PublicKey, RsaBackend } from "./types.ts";

/** Transport signature: base64url PSS over the ASCII canonical JSON of `payload`. */
export async function signPayload(
  backend: RsaBackend,
  key: PrivateKey,
  payload: unknown,
): Promise<string> {
  return b64uEncode(await backend.sign(key, canonicalBytes(payload, "ascii")));
}

/**
 * Verifies a transport signature: the ASCII canonical form first, then, only when the payload
 * has non-ASCII text (the only case where they differ), the raw-UTF-8 form some peers sign.
 * @param ascii the ASCII canonical form, when the caller has it already
 */
export async function verifyPayload(
  backend: RsaBackend,
  pub: PublicKey,
  payload: unknown,
  sigB64: string,
  ascii: Uint8Array = canonicalBytes(payload, "ascii"),
): Promise<boolean> {
  const sig = decodeSig(sigB64);
  if (sig === undefined) return false;
  if (await backend.verify(pub, ascii, sig)) return true;
  return hasNonAscii(payload) && await backend.verify(pub, canonicalBytes(payload, "utf8"), sig);
}

/** DM content signature: variant A unless a peer needs another (§5.2). */
export async function signDm(
  backend: RsaBackend,
  key: PrivateKey,
  content: DmContent,
  variant: ContentSigVariant = "A",
): Promise<string> {
  const bytes = dmPreimages(content)[variant];
  if (bytes === undefined) throw new TypeError(`the ciphertext cannot form layout ${variant}`);
  return b64uEncode(await backend.sign(key, bytes));
}

/** Verifies a DM content signature; returns the variant that matched, or `undefined`. */
export async function verifyDm(
  backend: RsaBackend,
  pub: PublicKey,
  content: DmContent,
  sigB64: string,
): Promise<ContentSigVariant | undefined> {
  return await verifyAny(backend, pub, dmPreimages(content), sigB64);
}

/** Public-channel content signature, variant A (no `to`). */
export async function signPublic(
  backend: RsaBackend,
  key: PrivateKey,
  content: PublicContent,
): Promise<string> {
  return await signVariantA(backend, key, publicPreimages(content));
}

/** Verifies a public-channel content signature; returns the variant that matched. */
export async function verifyPublic(
  backend: RsaBackend,
  pub: PublicKey,
  content: PublicContent,
  sigB64: string,
): Promise<ContentSigVariant | undefined> {
  return await verifyAny(backend, pub, publicPreimages(content), sigB64);
}

/** Key-share content signature over UTF-8(canonical(shares) + creatorPub). */
export async function signKeyShare(
  backend: RsaBackend,
  key: PrivateKey,
  shares: unknown,
  creatorPub: string,
): Promise<string> {
  return await signVariantA(backend, key, keySharePreimages(shares, creatorPub));
}

/** Verifies a key-share content signature against the four forms of §5.2. */
export async function verifyKeyShare(
  backend: RsaBackend,
  pub: PublicKey,
  shares: unknown,
  creatorPub: string,
  sigB64: string,
): Promise<ContentSigVariant | undefined> {
  return await verifyAny(backend, pub, keySharePreimages(shares, creatorPub), sigB64);
}

/** File-manifest content signature over its ASCII canonical JSON (§15 P12). */
export async function signManifest(
  backend: RsaBackend,
  key: PrivateKey,
  manifest: FileManifest,
): Promise<string> {
  return b64uEncode(await backend.sign(key, manifestBytes(manifest, "ascii")));
}

/** Verifies a file-manifest signature: ASCII form, then UTF-8 form if the manifest has non-ASCII. */
export async function verifyManifest(
  backend: RsaBackend,
  pub: PublicKey,
  manifest: FileManifest,
  sigB64: string,
): Promise<boolean> {
  const sig = decodeSig(sigB64);
  if (sig === undefined) return false;
  if (await backend.verify(pub, manifestBytes(manifest, "ascii"), sig)) return true;
  const utf8 = manifestBytes(manifest, "utf8");
  return !sameBytes(utf8, manifestBytes(manifest, "ascii")) && await backend.verify(pub, utf8, sig);
}

async function signVariantA(
  backend: RsaBackend,
  key: PrivateKey,
  preimages: Preimages,
): Promise<string> {
  return b64uEncode(await backend.sign(key, preimages.A!));
}

/**
 * Tries the variants in order A, B, C, D. A bad signature costs up to 8 RSA verifications (four
 * preimages × two salt lengths): about 9 ms with WebCrypto, acceptable for user content.
 */
async function verifyAny(
  backend: RsaBackend,
  pub: PublicKey,
  preimages: Preimages,
  sigB64: string,
): Promise<ContentSigVariant | undefined> {
  const sig = decodeSig(sigB64);
  if (sig === undefined) return undefined;
  for (const variant of ["A", "B", "C", "D"] as const) {
    const bytes = preimages[variant];
    if (bytes !== undefined && await backend.verify(pub, bytes, sig)) return variant;
  }
  return undefined;
}

function decodeSig(sigB64: unknown): Uint8Array<ArrayBuffer> | undefined {
  if (typeof sigB64 !== "string" || sigB64 === "") return undefined;
  return b64uDecode(sigB64.trim());
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
