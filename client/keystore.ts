/**
 * The terminal client's key pair at rest, in the shared "socp-keystore-v1" format
 * (crypto/keystore_format.ts: PBKDF2-SHA256 600 000 iterations + AES-256-GCM), plus reading and
 * writing the file. The passphrase and the clear key never leave this process.
 * @module
 */
import {
  KDF_ITERATIONS,
  type KeystoreFile,
  openPkcs8,
  parseKeystore,
  sealPkcs8,
} from "../crypto/keystore_format.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import { writeFileAtomic } from "../lib/write_file.ts";

export {
  KDF_ITERATIONS,
  type KeystoreFile,
  WrongPassphraseError,
} from "../crypto/keystore_format.ts";

/** Encrypts `key` for `user_id` under `passphrase`. */
export async function sealKeystore(
  backend: RsaBackend,
  key: PrivateKey,
  user_id: string,
  passphrase: string,
): Promise<KeystoreFile> {
  const pkcs8 = await backend.exportPrivate(key);
  try {
    return await sealPkcs8(pkcs8, user_id, key.publicKey.spki, passphrase, KDF_ITERATIONS);
  } finally {
    pkcs8.fill(0);
  }
}

/** Decrypts a keystore; throws `WrongPassphraseError` if the passphrase is wrong. */
export async function openKeystore(
  backend: RsaBackend,
  file: KeystoreFile,
  passphrase: string,
): Promise<PrivateKey> {
  const pkcs8 = await openPkcs8(file, passphrase);
  try {
    return await backend.importPrivate(pkcs8);
  } finally {
    pkcs8.fill(0);
  }
}

/** Reads a keystore file, or `undefined` if there is none. */
export async function readKeystore(path: string): Promise<KeystoreFile | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new TypeError(`Cannot read keystore "${path}": ${(e as Error).message}`);
  }
  try {
    return parseKeystore(text);
  } catch (e) {
    throw new TypeError(`Cannot read keystore "${path}": ${(e as Error).message}`);
  }
}

/** Writes a keystore file with mode 0600. */
export async function writeKeystore(path: string, file: KeystoreFile): Promise<void> {
  const dir = path.replace(/\/[^/]*$/, "");
  if (dir !== path) await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
}
