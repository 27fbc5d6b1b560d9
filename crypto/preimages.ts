/**
 * The exact bytes each `content_sig` covers (SOCP-1.3.md §5.2, §15 P4, P12). Pure and
 * synchronous, so tests can pin them byte for byte. Peers split four ways on what a content
 * signature covers, so every builder returns all the variants we accept; we sign variant A.
 * @module
 */

import { b64uDecode } from "../protocol/base64url.ts";
import { canonicalBytes, type CanonicalForm, canonicalJson } from "../protocol/canonical.ts";
import { sha256 } from "./hash.ts";
import { parsePublicKey } from "./key_import.ts";

/**
 * Which preimage a content signature matched. For DMs and the public channel: A = string concat
 * of the base64url ciphertext and fields, B = raw ciphertext bytes + fields, C = SHA-256(B),
 * D = canonical JSON object. For key shares see {@linkcode keySharePreimages}.
 */
export type ContentSigVariant = "A" | "B" | "C" | "D";

/** Preimages by variant; a variant is `undefined` when the input cannot form it. */
export type Preimages = Readonly<Record<ContentSigVariant, Uint8Array<ArrayBuffer> | undefined>>;

/** The fields a DM content signature covers (`ts` = envelope `ts`, integer milliseconds). */
export interface DmContent {
  /** base64url ciphertext exactly as it appears in the payload. */
  readonly ciphertext: string;
  readonly from: string;
  readonly to: string;
  readonly ts: number;
}

/** The fields a public-channel content signature covers: a DM without `to`. */
export interface PublicContent {
  readonly ciphertext: string;
  readonly from: string;
  readonly ts: number;
}

/** The file manifest `FILE_START` carries a content signature over (§15 P12). */
export interface FileManifest {
  readonly file_id: string;
  readonly name: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the whole plaintext file. */
  readonly sha256: string;
  readonly mode: string;
  readonly from: string;
  readonly to: string;
  readonly ts: number;
}

/**
 * DM preimages: A = UTF-8(ct_b64 + from + to + ts), B = b64decode(ct) ‖ UTF-8(from) ‖ UTF-8(to)
 * ‖ ASCII(ts), C = SHA-256(B), D = canonical JSON of {ciphertext, from, to, ts}. B and C are
 * `undefined` when the ciphertext is not base64.
 */
export function dmPreimages(content: DmContent): Preimages {
  const { ciphertext, from, to, ts } = content;
  return concatVariants(ciphertext, [from, to], ts, { ciphertext, from, to, ts });
}

/** Public-channel preimages: {@linkcode dmPreimages} without `to`. */
export function publicPreimages(content: PublicContent): Preimages {
  const { ciphertext, from, ts } = content;
  return concatVariants(ciphertext, [from], ts, { ciphertext, from, ts });
}

/**
 * Key-share preimages for `shares ‖ creator_pub`, in the order §5.2 lists them:
 * A = canonical(shares) + creator_pub (what we sign); B = SHA-256(canonical(shares)) ‖
 * DER(creator_pub), `undefined` when creator_pub is not an acceptable key; C = SHA-256(A);
 * D = JSON.stringify(shares) + creator_pub (key order as received).
 */
export function keySharePreimages(shares: unknown, creatorPub: string): Preimages {
  const canonical = canonicalJson(shares, "ascii");
  const a = utf8(canonical + creatorPub);
  const der = parsePublicKey(creatorPub);
  return {
    A: a,
    B: der.ok ? concat([sha256(utf8(canonical)), der.value.spkiDer]) : undefined,
    C: sha256(a),
    D: utf8((JSON.stringify(shares) ?? "null") + creatorPub),
  };
}

/**
 * Canonical bytes of a file manifest: exactly the eight fields of {@linkcode FileManifest},
 * whatever else the object carries, so extra payload fields never change what is signed.
 */
export function manifestBytes(
  manifest: FileManifest,
  form: CanonicalForm = "ascii",
): Uint8Array<ArrayBuffer> {
  const { file_id, name, size, sha256, mode, from, to, ts } = manifest;
  return canonicalBytes({ file_id, name, size, sha256, mode, from, to, ts }, form);
}

function concatVariants(
  ciphertext: string,
  ids: readonly string[],
  ts: number,
  object: Record<string, unknown>,
): Preimages {
  const tsText = String(ts);
  const raw = b64uDecode(ciphertext);
  const b = raw === undefined ? undefined : concat([raw, ...ids.map(utf8), utf8(tsText)]);
  return {
    A: utf8(ciphertext + ids.join("") + tsText),
    B: b,
    C: b === undefined ? undefined : sha256(b),
    D: canonicalBytes(object, "ascii"),
  };
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
