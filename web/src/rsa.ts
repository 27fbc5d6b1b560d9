/**
 * RSA-4096 for the browser client, WebCrypto only: RSASSA-PSS-SHA256 (salt 32, verify 32 or 478)
 * and RSA-OAEP-SHA256, the same parameters as crypto/webcrypto.ts (SOCP-1.3.md §5.3, §15 P1-P2).
 * A browser variant because the server's backends parse keys with `node:crypto` (key_import.ts)
 * and hash synchronously (hash.ts), neither of which exists in a browser. No DOM types: the
 * module runs in Deno too, so the tests can check it against the server's crypto.
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import {
  B64_LENGTH_MAX,
  OAEP_PLAINTEXT_BYTES_MAX,
  PSS_SALT_BYTES,
  PSS_SALT_MAX_BYTES,
  RSA_BITS,
  RSA_EXPONENT,
} from "../../protocol/limits.ts";

/** A validated RSA-4096 / e = 65537 public key. */
export interface PublicKey {
  /** base64url of the DER SubjectPublicKeyInfo, as re-exported by WebCrypto (canonical). */
  readonly spki: string;
  /** SHA-256 of the SPKI DER, lower-case hex in groups of four. */
  readonly fingerprint: string;
  readonly pss: CryptoKey;
  readonly oaep: CryptoKey;
}

/** Our own key pair. The private halves are non-extractable except `pss` (for the keystore). */
export interface KeyPair {
  readonly publicKey: PublicKey;
  readonly pss: CryptoKey;
  readonly oaep: CryptoKey;
}

/** Result of importing an untrusted public key. */
export type KeyImport = { ok: true; key: PublicKey } | { ok: false; reason: string };

/** Bytes in an RSA-4096 signature or ciphertext. */
const BLOCK_BYTES = RSA_BITS / 8;
const PSS: RsaHashedImportParams = { name: "RSA-PSS", hash: "SHA-256" };
const OAEP: RsaHashedImportParams = { name: "RSA-OAEP", hash: "SHA-256" };
/** DER of AlgorithmIdentifier { rsaEncryption, NULL }. */
const RSA_ALGORITHM_ID = [
  0x30,
  0x0d,
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x86,
  0xf7,
  0x0d,
  0x01,
  0x01,
  0x01,
  0x05,
  0x00,
];

/**
 * Generates a new RSA-4096 key pair (takes seconds; WebCrypto runs it off the main thread). The
 * pair is extractable so it can be sealed; chat with {@linkcode importPkcs8} of `pkcs8` instead.
 */
export async function generateKeyPair(): Promise<
  { pair: KeyPair; pkcs8: Uint8Array<ArrayBuffer> }
> {
  const generated = await crypto.subtle.generateKey(
    { ...PSS, modulusLength: RSA_BITS, publicExponent: exponentBytes() },
    true,
    ["sign", "verify"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", generated.privateKey));
  return { pair: await importPkcs8(pkcs8, { extractable: true }), pkcs8 };
}

/**
 * Imports a PKCS#8 DER private key as a PSS signing key and an OAEP decryption key, and derives
 * its public half from the key itself (never from a claim next to it). Throws a `TypeError` for
 * anything but RSA-4096 with e = 65537. The keys are non-extractable unless `extractable` (only
 * needed to seal a keystore), so not even script running in the page can read them out.
 */
export async function importPkcs8(
  pkcs8: Uint8Array<ArrayBuffer>,
  { extractable = false } = {},
): Promise<KeyPair> {
  let probe: CryptoKey;
  let oaep: CryptoKey;
  try {
    [probe, oaep] = await Promise.all([
      crypto.subtle.importKey("pkcs8", pkcs8, PSS, true, ["sign"]),
      crypto.subtle.importKey("pkcs8", pkcs8, OAEP, false, ["decrypt"]),
    ]);
  } catch {
    throw new TypeError("not an RSA private key (PKCS#8)");
  }
  const problem = checkRsa(probe);
  if (problem) throw new TypeError(problem);
  const jwk = await crypto.subtle.exportKey("jwk", probe);
  const pub = await crypto.subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: "PS256", ext: true },
    PSS,
    true,
    ["verify"],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pub));
  const pss = extractable
    ? probe
    : await crypto.subtle.importKey("pkcs8", pkcs8, PSS, false, ["sign"]);
  return { publicKey: await publicFromSpki(spki), pss, oaep };
}

/** PKCS#8 DER of our private key (only ever stored encrypted); needs an extractable pair. */
export async function exportPkcs8(pair: KeyPair): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.pss));
}

/**
 * Imports an untrusted public key in any form of §15 P1: base64url/base64 of DER SPKI or PKCS#1,
 * PEM (`PUBLIC KEY` / `RSA PUBLIC KEY`), or base64url of PEM text. Only RSA-4096 with
 * e = 65537 is accepted. Never throws.
 */
export async function importPublic(text: unknown): Promise<KeyImport> {
  if (typeof text !== "string" || text.trim() === "") return fail("key is empty");
  if (text.length > B64_LENGTH_MAX) return fail("key is too long");
  let trimmed = text.trim();
  if (!trimmed.startsWith("-----BEGIN")) {
    const bytes = b64uDecode(trimmed.replace(/\s+/g, ""));
    if (bytes === undefined) return fail("key is neither PEM nor base64");
    const asText = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, 10));
    if (!asText.startsWith("-----BEGIN")) return await publicFromDer(bytes);
    trimmed = new TextDecoder().decode(bytes).trim();
  }
  const pem = /^-----BEGIN (RSA PUBLIC KEY|PUBLIC KEY)-----([\s\S]*?)-----END \1-----$/.exec(
    trimmed,
  );
  if (!pem) return fail("PEM is not a public key");
  const der = b64uDecode(pem[2]!.replace(/\s+/g, ""));
  if (der === undefined) return fail("PEM body is not base64");
  return await publicFromDer(pem[1] === "RSA PUBLIC KEY" ? wrapPkcs1(der) : der);
}

/** RSASSA-PSS-SHA256 signature with salt 32 (§15 P2). */
export async function sign(pair: KeyPair, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.sign({ name: "RSA-PSS", saltLength: PSS_SALT_BYTES }, pair.pss, own(data)),
  );
}

/** Verifies RSASSA-PSS-SHA256 with salt 32, then 478 (PSS.MAX, most Python peers). */
export async function verify(
  key: PublicKey,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== BLOCK_BYTES) return false;
  for (const saltLength of [PSS_SALT_BYTES, PSS_SALT_MAX_BYTES]) {
    try {
      if (
        await crypto.subtle.verify(
          { name: "RSA-PSS", saltLength },
          key.pss,
          own(signature),
          own(data),
        )
      ) return true;
    } catch {
      return false;
    }
  }
  return false;
}

/** RSA-OAEP-SHA256 encryption of at most 446 bytes. */
export async function encrypt(
  key: PublicKey,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (plaintext.length > OAEP_PLAINTEXT_BYTES_MAX) {
    throw new RangeError(
      `${plaintext.length} bytes do not fit one RSA-OAEP block (${OAEP_PLAINTEXT_BYTES_MAX} max)`,
    );
  }
  return new Uint8Array(
    await crypto.subtle.encrypt({ name: "RSA-OAEP" }, key.oaep, own(plaintext)),
  );
}

/** RSA-OAEP-SHA256 decryption; `undefined` when it is not for us or corrupt. */
export async function decrypt(
  pair: KeyPair,
  ciphertext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (ciphertext.length !== BLOCK_BYTES) return undefined;
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt({ name: "RSA-OAEP" }, pair.oaep, own(ciphertext)),
    );
  } catch {
    return undefined;
  }
}

/** SHA-256 digest (WebCrypto, so asynchronous: unlike crypto/hash.ts, which uses node:crypto). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", own(bytes)));
}

/** Lower-case hex SHA-256, as file manifests carry it. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await sha256(bytes));
}

/** A key fingerprint: SHA-256 of the SPKI DER in groups of four hex digits. */
export async function fingerprintOf(spkiDer: Uint8Array): Promise<string> {
  return (await sha256Hex(spkiDer)).replace(/(.{4})(?=.)/g, "$1 ");
}

async function publicFromDer(der: Uint8Array<ArrayBuffer>): Promise<KeyImport> {
  let pss: CryptoKey;
  try {
    pss = await crypto.subtle.importKey("spki", der, PSS, true, ["verify"]);
  } catch {
    // Maybe a bare PKCS#1 RSAPublicKey (§15 P1 accepts it).
    try {
      pss = await crypto.subtle.importKey("spki", wrapPkcs1(der), PSS, true, ["verify"]);
    } catch {
      return fail("not a valid RSA public key");
    }
  }
  const problem = checkRsa(pss);
  if (problem) return fail(problem);
  return {
    ok: true,
    key: await publicFromSpki(new Uint8Array(await crypto.subtle.exportKey("spki", pss))),
  };
}

async function publicFromSpki(spki: Uint8Array<ArrayBuffer>): Promise<PublicKey> {
  const [pss, oaep, fingerprint] = await Promise.all([
    crypto.subtle.importKey("spki", spki, PSS, true, ["verify"]),
    crypto.subtle.importKey("spki", spki, OAEP, true, ["encrypt"]),
    fingerprintOf(spki),
  ]);
  return Object.freeze({ spki: b64uEncode(spki), fingerprint, pss, oaep });
}

function checkRsa(key: CryptoKey): string | undefined {
  const algorithm = key.algorithm as RsaHashedKeyAlgorithm;
  if (algorithm.modulusLength !== RSA_BITS) {
    return `RSA-${algorithm.modulusLength} key; only RSA-${RSA_BITS} is accepted`;
  }
  const e = [...algorithm.publicExponent].reduce((n, b) => n * 256 + b, 0);
  if (e !== RSA_EXPONENT) return `public exponent ${e}; only ${RSA_EXPONENT} is accepted`;
  return undefined;
}

/** SubjectPublicKeyInfo around a PKCS#1 RSAPublicKey. */
function wrapPkcs1(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const bitString = derTlv(0x03, [0x00, ...pkcs1]);
  return new Uint8Array(derTlv(0x30, [...RSA_ALGORITHM_ID, ...bitString]));
}

function derTlv(tag: number, body: number[]): number[] {
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [
    0x83,
    n >> 16,
    (n >> 8) & 0xff,
    n & 0xff,
  ];
  return [tag, ...length, ...body];
}

function exponentBytes(): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  for (let e = RSA_EXPONENT; e > 0; e = Math.floor(e / 256)) out.unshift(e % 256);
  return new Uint8Array(out);
}

/** Hex of bytes. */
export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function fail(reason: string): KeyImport {
  return { ok: false, reason };
}
