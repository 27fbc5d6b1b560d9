/**
 * The browser's keystore: the shared "socp-keystore-v1" format (crypto/keystore_format.ts), so
 * one file works in the terminal and the browser client, over this page's own key type.
 * @module
 */
import { openPkcs8, sealPkcs8 } from "../../crypto/keystore_format.ts";
import type { KeystoreFile } from "../../crypto/keystore_format.ts";
import { exportPkcs8, importPkcs8, type KeyPair } from "./rsa.ts";

export {
  KDF_ITERATIONS,
  type KeystoreFile,
  parseKeystore,
  WrongPassphraseError,
} from "../../crypto/keystore_format.ts";

/** Encrypts `pair` for `user_id` under `passphrase`. */
export async function sealKeystore(
  pair: KeyPair,
  user_id: string,
  passphrase: string,
  iterations?: number,
): Promise<KeystoreFile> {
  const pkcs8 = await exportPkcs8(pair);
  try {
    return await sealPkcs8(pkcs8, user_id, pair.publicKey.spki, passphrase, iterations);
  } finally {
    pkcs8.fill(0);
  }
}

/** Decrypts a keystore; throws `WrongPassphraseError` for a wrong passphrase. */
export async function openKeystore(file: KeystoreFile, passphrase: string): Promise<KeyPair> {
  const pkcs8 = await openPkcs8(file, passphrase);
  try {
    return await importPkcs8(pkcs8);
  } catch (e) {
    throw new TypeError(`The keystore opened, but its key is unusable: ${(e as Error).message}.`);
  } finally {
    pkcs8.fill(0);
  }
}
