/**
 * The crypto layer's public API: the {@linkcode RsaBackend} interface and its WebCrypto
 * implementation, tolerant key parsing, SHA-256 helpers, content_sig preimages, and the
 * sign/verify helpers for transport and content signatures.
 * @module
 */

import type { RsaBackend } from "./types.ts";
import { webCrypto } from "./webcrypto.ts";

export type { KeyImport, PrivateKey, PublicKey, RsaBackend } from "./types.ts";
export { createWebCryptoBackend, webCrypto, type WebCryptoOptions } from "./webcrypto.ts";
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

/** The backend the server and clients use unless told otherwise: WebCrypto, for now. */
export function defaultBackend(): RsaBackend {
  return webCrypto;
}
