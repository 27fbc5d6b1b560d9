/**
 * Transport and content signatures for the browser (SOCP-1.3.md §5.1-5.2, §15 P3, P4, P12).
 * The same bytes as crypto/preimages.ts and crypto/signing.ts (a test pins them byte for
 * byte), built asynchronously because the browser's SHA-256 (variant C) is `crypto.subtle`.
 * Canonical JSON and base64url are shared with the server (protocol/).
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import { canonicalBytes, type CanonicalForm, hasNonAscii } from "../../protocol/canonical.ts";
import { type KeyPair, type PublicKey, sha256, sign, verify } from "./rsa.ts";
import type { DmContent, ManifestContent, PublicContent } from "../../client/core/ports.ts";

/** Which preimage a content signature matched (see crypto/preimages.ts). */
export type Variant = "A" | "B" | "C" | "D";
/** Preimages by variant; `undefined` when the input cannot form one. */
export type Preimages = Record<Variant, Uint8Array<ArrayBuffer> | undefined>;

/** DM preimages A-D. */
export async function dmPreimages(c: DmContent): Promise<Preimages> {
  return await concatVariants(c.ciphertext, [c.from, c.to], c.ts, {
    ciphertext: c.ciphertext,
    from: c.from,
    to: c.to,
    ts: c.ts,
  });
}

/** Public-channel preimages A-D (a DM without `to`). */
export async function publicPreimages(c: PublicContent): Promise<Preimages> {
  return await concatVariants(c.ciphertext, [c.from], c.ts, {
    ciphertext: c.ciphertext,
    from: c.from,
    ts: c.ts,
  });
}

/** Canonical bytes of exactly the eight manifest fields. */
export function manifestBytes(
  m: ManifestContent,
  form: CanonicalForm = "ascii",
): Uint8Array<ArrayBuffer> {
  const { file_id, name, size, sha256, mode, from, to, ts } = m;
  return canonicalBytes({ file_id, name, size, sha256, mode, from, to, ts }, form);
}

/** Transport signature over the canonical (ASCII) payload. */
export async function signPayload(pair: KeyPair, payload: unknown): Promise<string> {
  return b64uEncode(await sign(pair, canonicalBytes(payload, "ascii")));
}

/** Verifies a transport signature: ASCII form, then raw UTF-8 when the payload has non-ASCII. */
export async function verifyPayload(
  key: PublicKey,
  payload: unknown,
  sig: unknown,
): Promise<boolean> {
  const bytes = decodeSig(sig);
  if (!bytes) return false;
  if (await verify(key, canonicalBytes(payload, "ascii"), bytes)) return true;
  return hasNonAscii(payload) && await verify(key, canonicalBytes(payload, "utf8"), bytes);
}

/** DM content_sig: variant A unless a peer needs another (§5.2). */
export async function signDm(pair: KeyPair, c: DmContent, variant: Variant = "A"): Promise<string> {
  const bytes = (await dmPreimages(c))[variant];
  if (bytes === undefined) throw new TypeError(`the ciphertext cannot form layout ${variant}`);
  return b64uEncode(await sign(pair, bytes));
}

/** Verifies a DM content_sig against variants A-D; the matching variant or `undefined`. */
export async function verifyDm(
  key: PublicKey,
  c: DmContent,
  sig: unknown,
): Promise<Variant | undefined> {
  return await verifyAny(key, await dmPreimages(c), sig);
}

/** Public-channel content_sig, variant A. */
export async function signPublic(pair: KeyPair, c: PublicContent): Promise<string> {
  return b64uEncode(await sign(pair, (await publicPreimages(c)).A!));
}

/** Verifies a public-channel content_sig against variants A-D. */
export async function verifyPublic(
  key: PublicKey,
  c: PublicContent,
  sig: unknown,
): Promise<Variant | undefined> {
  return await verifyAny(key, await publicPreimages(c), sig);
}

/** FILE_START content_sig over the canonical manifest. */
export async function signManifest(pair: KeyPair, m: ManifestContent): Promise<string> {
  return b64uEncode(await sign(pair, manifestBytes(m, "ascii")));
}

/** Verifies a manifest signature (ASCII form, then UTF-8 form if they differ). */
export async function verifyManifest(
  key: PublicKey,
  m: ManifestContent,
  sig: unknown,
): Promise<boolean> {
  const bytes = decodeSig(sig);
  if (!bytes) return false;
  const ascii = manifestBytes(m, "ascii");
  if (await verify(key, ascii, bytes)) return true;
  const utf8 = manifestBytes(m, "utf8");
  return !sameBytes(ascii, utf8) && await verify(key, utf8, bytes);
}

async function verifyAny(
  key: PublicKey,
  preimages: Preimages,
  sig: unknown,
): Promise<Variant | undefined> {
  const bytes = decodeSig(sig);
  if (!bytes) return undefined;
  for (const variant of ["A", "B", "C", "D"] as const) {
    const data = preimages[variant];
    if (data !== undefined && await verify(key, data, bytes)) return variant;
  }
  return undefined;
}

async function concatVariants(
  ciphertext: string,
  ids: string[],
  ts: number,
  object: Record<string, unknown>,
): Promise<Preimages> {
  const tsText = String(ts);
  const raw = b64uDecode(ciphertext);
  const b = raw === undefined ? undefined : concat([raw, ...ids.map(utf8), utf8(tsText)]);
  return {
    A: utf8(ciphertext + ids.join("") + tsText),
    B: b,
    C: b === undefined ? undefined : await sha256(b),
    D: canonicalBytes(object, "ascii"),
  };
}

function decodeSig(sig: unknown): Uint8Array<ArrayBuffer> | undefined {
  return typeof sig === "string" && sig !== "" ? b64uDecode(sig.trim()) : undefined;
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Verifies a PUBLIC_CHANNEL_KEY_SHARE content_sig against the four forms of §5.2 (as
 * crypto/preimages.ts builds them): A = canonical(shares) + creator_pub; B = SHA-256(canonical
 * (shares)) ‖ DER(creator key); C = SHA-256(A); D = JSON.stringify(shares) + creator_pub.
 */
export async function verifyKeyShare(
  key: PublicKey,
  shares: unknown,
  creatorPub: string,
  sig: unknown,
): Promise<Variant | undefined> {
  const canonical = canonicalBytes(shares, "ascii");
  const a = concat([canonical, utf8(creatorPub)]);
  const der = b64uDecode(key.spki);
  return await verifyAny(key, {
    A: a,
    B: der === undefined ? undefined : concat([await sha256(canonical), der]),
    C: await sha256(a),
    D: utf8((JSON.stringify(shares) ?? "null") + creatorPub),
  }, sig);
}
