/**
 * Tolerant parsing of RSA keys from untrusted text (SOCP-1.3.md §5.3, §15 P1), normalised to DER.
 *
 * Parsing is done by `node:crypto` (`createPublicKey` / `createPrivateKey`), which in Deno 2.9.6
 * reads SPKI and PKCS#1 DER, reports `asymmetricKeyDetails` (modulus bits, exponent) and
 * re-exports canonical DER; that beats a hand-written ASN.1 reader for robustness. We still cut
 * PEM armour ourselves so that only the public-key labels are accepted: `createPublicKey` would
 * happily derive a public key from a *private* key PEM, and a peer that pastes its private key
 * must not be told that was fine.
 * @module
 */

import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { Buffer } from "node:buffer";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { B64_LENGTH_MAX, RSA_BITS, RSA_EXPONENT } from "../protocol/limits.ts";

/** A public key that passed every check, as DER SubjectPublicKeyInfo. */
export interface ParsedPublicKey {
  /** DER SubjectPublicKeyInfo (rsaEncryption). */
  readonly spkiDer: Uint8Array<ArrayBuffer>;
  /** base64url (unpadded) of {@linkcode ParsedPublicKey.spkiDer}: the form we emit. */
  readonly spki: string;
}

/** A private key that passed every check. */
export interface ParsedPrivateKey {
  /** DER PKCS#8 PrivateKeyInfo. */
  readonly pkcs8Der: Uint8Array<ArrayBuffer>;
  /** DER SubjectPublicKeyInfo of the public half. */
  readonly spkiDer: Uint8Array<ArrayBuffer>;
}

/** Outcome of a parse: the key, or why it was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const NOT_RSA = "not a valid RSA public key";
const NOT_RSA_PRIVATE = "not a valid RSA private key";
const PEM_BEGIN = "-----BEGIN";
const PEM_RE = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n?([\s\S]*?)-----END \1-----\s*$/;

/**
 * Parses an untrusted public key in any form of §15 P1: PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`),
 * base64url/base64 of DER SPKI or PKCS#1 `RSAPublicKey`, or base64url/base64 of PEM text. The key
 * must be RSA with exactly a 4096-bit modulus and e = 65537. Never throws.
 */
export function parsePublicKey(text: string): Parsed<ParsedPublicKey> {
  if (typeof text !== "string") return fail(NOT_RSA);
  if (text.length > B64_LENGTH_MAX) {
    return fail(`key text is ${text.length} characters; at most ${B64_LENGTH_MAX} accepted`);
  }
  const trimmed = text.trim();
  if (trimmed === "") return fail("key is empty");
  if (trimmed.startsWith(PEM_BEGIN)) return parsePublicPem(trimmed);
  // Line-wrapped base64 (PEM body without armour) is seen in the wild, so drop whitespace.
  const bytes = b64uDecode(trimmed.replace(/\s+/g, ""));
  if (bytes === undefined) return fail(`${NOT_RSA} (neither PEM nor base64)`);
  if (startsWithAscii(bytes, PEM_BEGIN)) {
    const pem = decodeUtf8(bytes);
    return pem === undefined ? fail(NOT_RSA) : parsePublicPem(pem.trim());
  }
  return parsePublicDer(bytes);
}

/**
 * Parses a private key: PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) as PEM text, PEM
 * bytes, DER bytes, or base64 of DER. Encrypted keys are refused. Never throws.
 */
export function parsePrivateKey(data: Uint8Array | string): Parsed<ParsedPrivateKey> {
  let bytes: Uint8Array | undefined;
  if (typeof data === "string") {
    const trimmed = data.trim();
    if (trimmed === "") return fail("private key is empty");
    if (trimmed.startsWith(PEM_BEGIN)) return parsePrivatePem(trimmed);
    bytes = b64uDecode(trimmed.replace(/\s+/g, ""));
    if (bytes === undefined) return fail("private key is neither PEM nor base64 DER");
  } else if (data instanceof Uint8Array) {
    bytes = data;
  } else {
    return fail("private key must be a string or bytes");
  }
  if (startsWithAscii(bytes, PEM_BEGIN)) {
    const pem = decodeUtf8(bytes);
    return pem === undefined ? fail("private key PEM is not text") : parsePrivatePem(pem.trim());
  }
  return parsePrivateDer(bytes);
}

function parsePublicPem(text: string): Parsed<ParsedPublicKey> {
  const pem = splitPem(text);
  if (!pem.ok) return pem;
  const { label, der } = pem.value;
  if (label === "PUBLIC KEY") return parsePublicDerAs(der, "spki");
  if (label === "RSA PUBLIC KEY") return parsePublicDerAs(der, "pkcs1");
  return fail(`PEM block "${label}" is not a public key`);
}

function parsePublicDer(der: Uint8Array): Parsed<ParsedPublicKey> {
  const spki = parsePublicDerAs(der, "spki");
  if (spki.ok) return spki;
  const pkcs1 = parsePublicDerAs(der, "pkcs1");
  if (pkcs1.ok) return pkcs1;
  // A real key that failed the size/exponent checks has the more useful reason.
  return spki.reason !== NOT_RSA ? spki : pkcs1;
}

function parsePublicDerAs(der: Uint8Array, type: "spki" | "pkcs1"): Parsed<ParsedPublicKey> {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: toBuffer(der), format: "der", type });
  } catch {
    return fail(NOT_RSA);
  }
  const refused = checkRsa(key);
  if (refused !== undefined) return fail(refused);
  const spkiDer = exportDer(key, "spki");
  if (spkiDer === undefined) return fail(NOT_RSA);
  return { ok: true, value: { spkiDer, spki: b64uEncode(spkiDer) } };
}

function parsePrivatePem(text: string): Parsed<ParsedPrivateKey> {
  const pem = splitPem(text);
  if (!pem.ok) return pem;
  const { label, der } = pem.value;
  if (label === "PRIVATE KEY") return parsePrivateDerAs(der, "pkcs8");
  if (label === "RSA PRIVATE KEY") return parsePrivateDerAs(der, "pkcs1");
  if (label === "ENCRYPTED PRIVATE KEY") return fail("encrypted private keys are not supported");
  return fail(`PEM block "${label}" is not a private key`);
}

function parsePrivateDer(der: Uint8Array): Parsed<ParsedPrivateKey> {
  const pkcs8 = parsePrivateDerAs(der, "pkcs8");
  if (pkcs8.ok) return pkcs8;
  const pkcs1 = parsePrivateDerAs(der, "pkcs1");
  if (pkcs1.ok) return pkcs1;
  return pkcs8.reason !== NOT_RSA_PRIVATE ? pkcs8 : pkcs1;
}

function parsePrivateDerAs(der: Uint8Array, type: "pkcs8" | "pkcs1"): Parsed<ParsedPrivateKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: toBuffer(der), format: "der", type });
  } catch {
    return fail(NOT_RSA_PRIVATE);
  }
  const refused = checkRsa(key);
  if (refused !== undefined) return fail(refused);
  const pkcs8Der = exportDer(key, "pkcs8");
  let spkiDer: Uint8Array<ArrayBuffer> | undefined;
  try {
    spkiDer = exportDer(createPublicKey(key), "spki");
  } catch {
    spkiDer = undefined;
  }
  if (pkcs8Der === undefined || spkiDer === undefined) return fail(NOT_RSA_PRIVATE);
  return { ok: true, value: { pkcs8Der, spkiDer } };
}

/** Returns why `key` is not an acceptable SOCP key, or `undefined` when it is. */
function checkRsa(key: KeyObject): string | undefined {
  // "rsa-pss" (id-RSASSA-PSS SPKI) keys are refused too: peers and WebCrypto expect rsaEncryption.
  if (key.asymmetricKeyType !== "rsa") {
    return `key type is ${key.asymmetricKeyType ?? "unknown"}; SOCP requires RSA`;
  }
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength;
  const exponent = details?.publicExponent;
  if (bits !== RSA_BITS) {
    return `RSA key is ${bits ?? "an unknown number of"} bits; SOCP requires ${RSA_BITS}`;
  }
  if (exponent !== BigInt(RSA_EXPONENT)) {
    return `RSA public exponent is ${exponent ?? "unknown"}; SOCP requires ${RSA_EXPONENT}`;
  }
  return undefined;
}

function splitPem(text: string): Parsed<{ label: string; der: Uint8Array }> {
  // Some peers double-escape newlines when they put PEM in JSON; undo that before matching.
  const normal = text.replace(/\\n/g, "\n");
  const match = PEM_RE.exec(normal);
  if (match === null) return fail("malformed PEM");
  const label = match[1]!;
  const body = match[2]!;
  // Headers such as "Proc-Type: 4,ENCRYPTED" mean legacy encryption, which we do not read.
  if (body.includes(":")) return fail("PEM with headers (encrypted key?) is not supported");
  const der = b64uDecode(body.replace(/\s+/g, ""));
  if (der === undefined || der.length === 0) return fail("PEM body is not base64");
  return { ok: true, value: { label, der } };
}

function exportDer(key: KeyObject, type: "spki" | "pkcs8"): Uint8Array<ArrayBuffer> | undefined {
  try {
    const out = key.export({ type, format: "der" });
    // Copy into a fresh ArrayBuffer: Buffers may share Node's pool and crypto.subtle wants
    // Uint8Array<ArrayBuffer>.
    return new Uint8Array(out);
  } catch {
    return undefined;
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function startsWithAscii(bytes: Uint8Array, prefix: string): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
