/**
 * The crypto layer's public API: the {@linkcode RsaBackend} interface and its two
 * implementations (OpenSSL libcrypto through FFI, and WebCrypto), tolerant key parsing, SHA-256 helpers, content_sig preimages, and the
 * sign/verify helpers for transport and content signatures.
 * @module
 */

import { createOpenSslBackend } from "./openssl.ts";
import type { RsaBackend } from "./types.ts";
import { webCrypto } from "./webcrypto.ts";

export type { KeyImport, PrivateKey, PublicKey, RsaBackend } from "./types.ts";
export { createWebCryptoBackend, webCrypto, type WebCryptoOptions } from "./webcrypto.ts";
export { createOpenSslBackend, type OpenSslOptions } from "./openssl.ts";
export {
  type Parsed,
  type ParsedPrivateKey,
  type ParsedPublicKey,
  parsePrivateKey,
  parsePublicKey,
} from "./key_import.ts";
export { sha256, sha256Hex } from "./hash.ts";
export {
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
export {
  signDm,
  signKeyShare,
  signManifest,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyManifest,
  verifyPayload,
  verifyPublic,
} from "./signing.ts";
export { Semaphore } from "./semaphore.ts";

let chosen: RsaBackend | undefined;

/**
 * The backend the server and clients use unless told otherwise, chosen once per process: the
 * OpenSSL backend when the system libcrypto (OpenSSL 3) loads, else WebCrypto, announced by one
 * line through `warn` (stderr by default).
 */
export function defaultBackend(
  warn: (line: string) => void = (line) => console.error(line),
): RsaBackend {
  chosen ??= createOpenSslBackend({
    onUnavailable: (reason) =>
      warn(`OpenSSL libcrypto not available (${reason}); using WebCrypto (slower)`),
  }) ?? webCrypto;
  return chosen;
}
