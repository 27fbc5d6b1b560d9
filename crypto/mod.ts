/**
 * The crypto layer's public API: the {@linkcode RsaBackend} interface and its two
 * implementations (OpenSSL libcrypto through FFI, and WebCrypto), tolerant key parsing, SHA-256 helpers, content_sig preimages, and the
 * sign/verify helpers for transport and content signatures.
 * @module
 */

import { chooseLibCrypto, type LibCryptoChoice } from "./libcrypto_cache.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
import { createOpenSslBackend } from "./openssl.ts";
import type { RsaBackend } from "./types.ts";
import { webCrypto } from "./webcrypto.ts";

export type { KeyImport, LibraryInfo, PrivateKey, PublicKey, RsaBackend } from "./types.ts";
export { chooseLibCrypto, LIBCRYPTO_ENV, type LibCryptoChoice } from "./libcrypto_cache.ts";
export { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
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

/** A backend for a libcrypto choice, and the one line to log when it is not the fast library. */
export interface OpenedBackend {
  backend: RsaBackend;
  /** Where the library came from (`LibCryptoChoice.origin`), or "WebCrypto". */
  origin: string;
  /** Set when the fast library is not used: why, and what is used instead. */
  fallback?: string;
}

/**
 * Opens the OpenSSL backend on the chosen library; when that cannot load, the system libcrypto;
 * when that cannot either, WebCrypto.
 */
export function openBackend(choice: LibCryptoChoice = chooseLibCrypto()): OpenedBackend {
  let why = choice.fallback;
  if (choice.path !== undefined) {
    let reason = "";
    const chosen = createOpenSslBackend({
      libraryPath: choice.path,
      onUnavailable: (r) => reason = r,
    });
    if (chosen !== undefined) return { backend: chosen, origin: choice.origin };
    why = `${choice.path} does not load: ${reason}`;
  }
  let reason = "";
  const system = createOpenSslBackend({ onUnavailable: (r) => reason = r });
  if (system !== undefined) {
    const fallback = why === undefined ? undefined : `OpenSSL ${FAST_LIBCRYPTO.version} not used ` +
      `(${why}); signing with the system libcrypto, OpenSSL ${system.library?.version}`;
    return { backend: system, origin: "system", fallback };
  }
  return {
    backend: webCrypto,
    origin: "WebCrypto",
    fallback: `OpenSSL libcrypto not available (${reason}); using WebCrypto (slower)`,
  };
}

let chosen: RsaBackend | undefined;

/**
 * The backend the server and clients use unless told otherwise, chosen once per process (see
 * {@linkcode openBackend}); only a fall back to WebCrypto is announced, by one line through `warn`
 * (stderr by default): the server logs its own choice.
 */
export function defaultBackend(
  warn: (line: string) => void = (line) => console.error(line),
): RsaBackend {
  if (chosen === undefined) {
    const opened = openBackend();
    if (opened.origin === "WebCrypto") warn(opened.fallback!);
    chosen = opened.backend;
  }
  return chosen;
}
