/**
 * The client's key pair at rest: PKCS#8 encrypted with AES-256-GCM under a key derived from a
 * passphrase with PBKDF2-SHA256 (600 000 iterations, OWASP 2023). The passphrase and the clear
 * key never leave this process. WebCrypto only, so the same format works in a browser.
 * @module
 */
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";

/** PBKDF2 iterations for new keystores. */
export const KDF_ITERATIONS = 600_000;

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

/** Encrypts `key` for `user_id` under `passphrase`. */
export async function sealKeystore(
  backend: RsaBackend,
  key: PrivateKey,
  user_id: string,
  passphrase: string,
): Promise<KeystoreFile> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aes = await deriveKey(passphrase, salt, KDF_ITERATIONS);
  // The user id is bound as associated data, so a blob cannot be moved to another id unnoticed.
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(user_id) },
    aes,
    await backend.exportPrivate(key),
  );
  return {
    format: "socp-keystore-v1",
    user_id,
    pubkey: key.publicKey.spki,
    kdf: { name: "PBKDF2-SHA256", iterations: KDF_ITERATIONS, salt: b64uEncode(salt) },
    cipher: { name: "AES-256-GCM", iv: b64uEncode(iv), ciphertext: b64uEncode(new Uint8Array(ct)) },
  };
}

/** Decrypts a keystore; throws {@linkcode WrongPassphraseError} if the passphrase is wrong. */
export async function openKeystore(
  backend: RsaBackend,
  file: KeystoreFile,
  passphrase: string,
): Promise<PrivateKey> {
  if (file.format !== "socp-keystore-v1") {
    throw new TypeError(`Cannot open keystore: unknown format "${file.format}"`);
  }
  const salt = b64uDecode(file.kdf.salt);
  const iv = b64uDecode(file.cipher.iv);
  const ct = b64uDecode(file.cipher.ciphertext);
  if (!salt || !iv || !ct) throw new TypeError("Cannot open keystore: it is corrupt");
  const aes = await deriveKey(passphrase, salt, file.kdf.iterations);
  let pkcs8: ArrayBuffer;
  try {
    pkcs8 = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(file.user_id) },
      aes,
      ct,
    );
  } catch {
    throw new WrongPassphraseError("Cannot open keystore: wrong passphrase");
  }
  return await backend.importPrivate(new Uint8Array(pkcs8));
}

/** Reads a keystore file, or `undefined` if there is none. */
export async function readKeystore(path: string): Promise<KeystoreFile | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as KeystoreFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new TypeError(`Cannot read keystore "${path}": ${(e as Error).message}`);
  }
}

/** Writes a keystore file with mode 0600. */
export async function writeKeystore(path: string, file: KeystoreFile): Promise<void> {
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir !== path) await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
}
