/**
 * The client core's crypto port over the terminal's RSA backend (OpenSSL through FFI, or
 * WebCrypto): the user's own key bound in, signatures in the forms of crypto/signing.ts.
 * @module
 */
import {
  signDm,
  signManifest,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyManifest,
  verifyPayload,
  verifyPublic,
} from "../crypto/signing.ts";
import { sha256Hex } from "../crypto/hash.ts";
import type { PrivateKey, PublicKey, RsaBackend } from "../crypto/types.ts";
import type { ClientCrypto } from "./core/ports.ts";
import { fingerprint } from "./known_keys.ts";

/** `backend` with `key` as the user's own key. */
export function backendCrypto(backend: RsaBackend, key: PrivateKey): ClientCrypto<PublicKey> {
  const sig = (s: unknown) => typeof s === "string" ? s : "";
  return {
    spki: key.publicKey.spki,
    importPublic: (text) =>
      text === undefined
        ? Promise.resolve({ ok: false, reason: "no key" })
        : backend.importPublic(text),
    fingerprint: (k) => fingerprint(k.spki),
    encrypt: (k, plain) => backend.encrypt(k, plain),
    decrypt: (ct) => backend.decrypt(key, ct),
    sign: (bytes) => backend.sign(key, bytes),
    sha256Hex: (bytes) => Promise.resolve(sha256Hex(bytes)),
    signPayload: (payload) => signPayload(backend, key, payload),
    verifyPayload: (k, payload, s) => verifyPayload(backend, k, payload, s),
    signDm: (content, layout) => signDm(backend, key, content, layout),
    verifyDm: (k, content, s) => verifyDm(backend, k, content, sig(s)),
    signPublic: (content) => signPublic(backend, key, content),
    verifyPublic: async (k, content, s) =>
      (await verifyPublic(backend, k, content, sig(s))) !== undefined,
    signManifest: (m) => signManifest(backend, key, m),
    verifyManifest: (k, m, s) => verifyManifest(backend, k, m, sig(s)),
    verifyKeyShare: async (k, shares, creator, s) =>
      (await verifyKeyShare(backend, k, shares, creator, sig(s))) !== undefined,
  };
}
