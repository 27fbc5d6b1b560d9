/**
 * The encrypted keystore format shared by the terminal and the browser client
 * ("socp-keystore-v1"): a PKCS#8 private key under AES-256-GCM, the key derived from a
 * passphrase with PBKDF2-SHA256 (600 000 iterations, OWASP 2023), the user id bound as
 * associated data. WebCrypto only and no file I/O, so both clients use this one file.
 * @module
 */
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";

/** PBKDF2 iterations for new keystores. */
export const KDF_ITERATIONS = 600_000;
/** Most iterations a keystore may ask for (a hostile file must not freeze a client for hours). */
const KDF_ITERATIONS_MAX = 10_000_000;

/** The stored form. */
export interface KeystoreFile {
  format: "socp-keystore-v1";
  user_id: string;
  pubkey: string;
  kdf: { name: "PBKDF2-SHA256"; iterations: number; salt: string };
  cipher: { name: "AES-256-GCM"; iv: string; ciphertext: string };
}

/** Thrown when the passphrase does not open the keystore. */
export class WrongPassphraseError extends Error {
  override name = "WrongPassphraseError";
}

/** Checks that untrusted JSON text is a keystore; throws a `TypeError` that says what is wrong. */
export function parseKeystore(text: string): KeystoreFile {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    throw new TypeError("This file is not JSON, so it is not a SOCP keystore.");
  }
  const kdf = v?.kdf as Record<string, unknown> | undefined;
  const cipher = v?.cipher as Record<string, unknown> | undefined;
  if (v?.format !== "socp-keystore-v1") {
    throw new TypeError('This file is not a SOCP keystore (format "socp-keystore-v1" expected).');
  }
  const ok = typeof v.user_id === "string" && v.user_id.length > 0 && v.user_id.length <= 256 &&
    typeof v.pubkey === "string" && kdf?.name === "PBKDF2-SHA256" &&
    Number.isInteger(kdf.iterations) && (kdf.iterations as number) >= 1 &&
    (kdf.iterations as number) <= KDF_ITERATIONS_MAX && typeof kdf.salt === "string" &&
    cipher?.name === "AES-256-GCM" && typeof cipher.iv === "string" &&
    typeof cipher.ciphertext === "string";
  if (!ok) throw new TypeError("This keystore is damaged: a field is missing or invalid.");
  return v as unknown as KeystoreFile;
}

/** Encrypts a PKCS#8 key for `user_id` under `passphrase`. */
export async function sealPkcs8(
  pkcs8: Uint8Array<ArrayBuffer>,
  user_id: string,
  pubkey: string,
  passphrase: string,
  iterations = KDF_ITERATIONS,
): Promise<KeystoreFile> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aes = await deriveKey(passphrase, salt, iterations);
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(user_id) },
    aes,
    pkcs8,
  );
  return {
    format: "socp-keystore-v1",
    user_id,
    pubkey,
    kdf: { name: "PBKDF2-SHA256", iterations, salt: b64uEncode(salt) },
    cipher: { name: "AES-256-GCM", iv: b64uEncode(iv), ciphertext: b64uEncode(new Uint8Array(ct)) },
  };
}

/** Decrypts a keystore to its PKCS#8 bytes; throws {@linkcode WrongPassphraseError} if wrong. */
export async function openPkcs8(
  file: KeystoreFile,
  passphrase: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const salt = b64uDecode(file.kdf.salt);
  const iv = b64uDecode(file.cipher.iv);
  const ct = b64uDecode(file.cipher.ciphertext);
  if (!salt || !iv || !ct) throw new TypeError("This keystore is damaged: not base64.");
  const aes = await deriveKey(passphrase, salt, file.kdf.iterations);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(file.user_id) },
        aes,
        ct,
      ),
    );
  } catch {
    throw new WrongPassphraseError(
      "Wrong passphrase: the keystore could not be decrypted. Check it and try again.",
    );
  }
}

async function deriveKey(
  passphrase: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(passphrase),
    "PBKDF2",
    false,
    ["deriveKey"],
  );
  return await crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}
