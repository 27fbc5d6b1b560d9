/**
 * The one small crypto interface the server and clients use. Every RSA key is RSA-4096 with
 * e = 65537 (SOCP-1.3.md §15 P1). Backends: OpenSSL libcrypto through FFI (`openssl.ts`, the
 * default when it loads) and WebCrypto (`webcrypto.ts`, the reference and fallback); both pass
 * one contract suite (`_backend_contract.ts`).
 * @module
 */

/** A validated RSA-4096 public key. */
export interface PublicKey {
  /** base64url (unpadded) of the DER SubjectPublicKeyInfo: the only form we emit. */
  readonly spki: string;
  /** The backend's own handle; opaque to callers. */
  readonly handle: unknown;
}

/** An RSA-4096 private key with its public half. */
export interface PrivateKey {
  readonly publicKey: PublicKey;
  /** The backend's own handle; opaque to callers. Never logged. */
  readonly handle: unknown;
}

/** Result of importing an untrusted public key. */
export type KeyImport =
  | { ok: true; key: PublicKey }
  | { ok: false; reason: string };

/** A loaded crypto library: e.g. OpenSSL, "3.5.7", and the file it was loaded from. */
export interface LibraryInfo {
  readonly name: string;
  readonly version: string;
  readonly path: string;
}

/** RSA-4096 operations. Private-key operations never block the event loop. */
export interface RsaBackend {
  readonly name: string;
  /** The library doing the RSA work, where it is a loaded one (for logs and /status). */
  readonly library?: LibraryInfo;
  /** Generates a new RSA-4096 key pair with e = 65537. */
  generate(): Promise<PrivateKey>;
  /** Imports a PKCS#8 (DER or PEM) or PKCS#1 private key; throws `TypeError` if it is not RSA-4096/65537. */
  importPrivate(data: Uint8Array | string): Promise<PrivateKey>;
  /** PKCS#8 DER of a private key (for storing it encrypted or 0600 on disk). */
  exportPrivate(key: PrivateKey): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * Imports an untrusted public key in any form of §15 P1: base64url/base64 DER SPKI, PKCS#1,
   * PEM, or base64url(PEM). Anything not exactly 4096 bits with e = 65537 fails with a reason.
   */
  importPublic(text: string): Promise<KeyImport>;
  /** RSASSA-PSS-SHA256 with salt 32 (§15 P2). */
  sign(key: PrivateKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** RSASSA-PSS-SHA256, accepting salt 32 or 478. Never throws for bad input: returns false. */
  verify(key: PublicKey, data: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** RSA-OAEP-SHA256 (MGF1-SHA256, empty label). Throws `RangeError` above 446 bytes. */
  encrypt(key: PublicKey, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>>;
  /** RSA-OAEP-SHA256 decryption; `undefined` if the ciphertext does not decrypt. */
  decrypt(key: PrivateKey, ciphertext: Uint8Array): Promise<Uint8Array<ArrayBuffer> | undefined>;
}
