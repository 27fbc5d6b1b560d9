/**
 * The WebCrypto (`crypto.subtle`) implementation of {@linkcode RsaBackend}: RSASSA-PSS-SHA256
 * and RSA-OAEP-SHA256 (MGF1-SHA256, empty label) with RSA-4096 keys. It is the reference backend:
 * slower than OpenSSL through FFI (PLATFORM.md §1) but needs no permissions, and it never blocks
 * the event loop because Deno runs these operations off the main thread.
 * @module
 */

import { b64uEncode } from "../protocol/base64url.ts";
import {
  CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX,
  OAEP_PLAINTEXT_BYTES_MAX,
  PSS_SALT_BYTES,
  PSS_SALT_MAX_BYTES,
  RSA_BITS,
  RSA_EXPONENT,
} from "../protocol/limits.ts";
import { parsePrivateKey, parsePublicKey } from "./key_import.ts";
import { Semaphore } from "./semaphore.ts";
import type { KeyImport, PrivateKey, PublicKey, RsaBackend } from "./types.ts";

/** Bytes in an RSA-4096 signature or OAEP ciphertext. */
const RSA_BLOCK_BYTES = RSA_BITS / 8;

const PSS: RsaHashedImportParams = { name: "RSA-PSS", hash: "SHA-256" };
const OAEP: RsaHashedImportParams = { name: "RSA-OAEP", hash: "SHA-256" };

/**
 * WebCrypto keys are bound to one algorithm, so every handle carries a PSS key and an OAEP key
 * imported from the same DER.
 */
class PublicHandle {
  constructor(readonly pss: CryptoKey, readonly oaep: CryptoKey) {}
}

/** Private counterpart of {@linkcode PublicHandle}; the PSS key is extractable for export. */
class PrivateHandle {
  constructor(readonly pss: CryptoKey, readonly oaep: CryptoKey) {}
}

/** Options for {@linkcode createWebCryptoBackend}. */
export interface WebCryptoOptions {
  /** Private-key operations (sign, decrypt) in flight at once. */
  readonly privateOpsInFlightMax?: number;
}

/** Creates a WebCrypto backend with its own bound on private-key operations in flight. */
export function createWebCryptoBackend(options: WebCryptoOptions = {}): RsaBackend {
  const gate = new Semaphore(options.privateOpsInFlightMax ?? CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX);
  const subtle = crypto.subtle;

  async function publicFromSpki(spkiDer: Uint8Array<ArrayBuffer>): Promise<PublicKey> {
    const [pss, oaep] = await Promise.all([
      subtle.importKey("spki", spkiDer, PSS, true, ["verify"]),
      subtle.importKey("spki", spkiDer, OAEP, true, ["encrypt"]),
    ]);
    return Object.freeze({ spki: b64uEncode(spkiDer), handle: new PublicHandle(pss, oaep) });
  }

  async function privateFromDer(
    pkcs8Der: Uint8Array<ArrayBuffer>,
    spkiDer: Uint8Array<ArrayBuffer>,
  ): Promise<PrivateKey> {
    const [pss, oaep, publicKey] = await Promise.all([
      subtle.importKey("pkcs8", pkcs8Der, PSS, true, ["sign"]),
      subtle.importKey("pkcs8", pkcs8Der, OAEP, false, ["decrypt"]),
      publicFromSpki(spkiDer),
    ]);
    return Object.freeze({ publicKey, handle: new PrivateHandle(pss, oaep) });
  }

  return Object.freeze({
    name: "webcrypto",

    async generate(): Promise<PrivateKey> {
      // Not gated: generation takes seconds and would starve signing of a slot; it is rare.
      const pair = await subtle.generateKey(
        { ...PSS, modulusLength: RSA_BITS, publicExponent: exponentBytes() },
        true,
        ["sign", "verify"],
      );
      const [pkcs8, spki] = await Promise.all([
        subtle.exportKey("pkcs8", pair.privateKey),
        subtle.exportKey("spki", pair.publicKey),
      ]);
      return privateFromDer(new Uint8Array(pkcs8), new Uint8Array(spki));
    },

    async importPrivate(data: Uint8Array | string): Promise<PrivateKey> {
      const parsed = parsePrivateKey(data);
      if (!parsed.ok) throw new TypeError(`Cannot import private key: ${parsed.reason}`);
      return await privateFromDer(parsed.value.pkcs8Der, parsed.value.spkiDer);
    },

    async exportPrivate(key: PrivateKey): Promise<Uint8Array<ArrayBuffer>> {
      return new Uint8Array(await subtle.exportKey("pkcs8", privateHandle(key).pss));
    },

    async importPublic(text: string): Promise<KeyImport> {
      const parsed = parsePublicKey(text);
      if (!parsed.ok) return parsed;
      try {
        return { ok: true, key: await publicFromSpki(parsed.value.spkiDer) };
      } catch {
        // node:crypto accepted it but WebCrypto did not; treat as malformed, never throw.
        return { ok: false, reason: "not a valid RSA public key" };
      }
    },

    async sign(key: PrivateKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
      const handle = privateHandle(key);
      const bytes = ownBytes(data);
      return await gate.run(async () => {
        const params = { name: "RSA-PSS", saltLength: PSS_SALT_BYTES };
        return new Uint8Array(await subtle.sign(params, handle.pss, bytes));
      });
    },

    async verify(key: PublicKey, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
      const handle = publicHandle(key);
      if (!(data instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      // Wrong-length signatures cannot verify; skip two pointless RSA operations.
      if (signature.length !== RSA_BLOCK_BYTES) return false;
      const bytes = ownBytes(data);
      const sig = ownBytes(signature);
      // WebCrypto checks the salt length exactly, so try ours (32) first, then PSS.MAX (478),
      // which most Python peers sign with (§5.3).
      for (const saltLength of [PSS_SALT_BYTES, PSS_SALT_MAX_BYTES]) {
        try {
          if (await subtle.verify({ name: "RSA-PSS", saltLength }, handle.pss, sig, bytes)) {
            return true;
          }
        } catch {
          return false;
        }
      }
      return false;
    },

    async encrypt(key: PublicKey, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
      const handle = publicHandle(key);
      if (plaintext.length > OAEP_PLAINTEXT_BYTES_MAX) {
        throw new RangeError(
          `Cannot encrypt: plaintext is ${plaintext.length} bytes, RSA-4096 OAEP-SHA256 holds at most ${OAEP_PLAINTEXT_BYTES_MAX}`,
        );
      }
      return new Uint8Array(
        await subtle.encrypt({ name: "RSA-OAEP" }, handle.oaep, ownBytes(plaintext)),
      );
    },

    async decrypt(
      key: PrivateKey,
      ciphertext: Uint8Array,
    ): Promise<Uint8Array<ArrayBuffer> | undefined> {
      const handle = privateHandle(key);
      if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== RSA_BLOCK_BYTES) {
        return undefined;
      }
      const bytes = ownBytes(ciphertext);
      return await gate.run(async () => {
        try {
          return new Uint8Array(await subtle.decrypt({ name: "RSA-OAEP" }, handle.oaep, bytes));
        } catch {
          return undefined;
        }
      });
    },
  });
}

/** The process-wide WebCrypto backend. */
export const webCrypto: RsaBackend = createWebCryptoBackend();

function publicHandle(key: PublicKey): PublicHandle {
  const handle = key?.handle;
  // A key from another backend is a programming error, not bad peer input.
  if (!(handle instanceof PublicHandle)) throw new TypeError("Not a WebCrypto public key");
  return handle;
}

function privateHandle(key: PrivateKey): PrivateHandle {
  const handle = key?.handle;
  if (!(handle instanceof PrivateHandle)) throw new TypeError("Not a WebCrypto private key");
  return handle;
}

/** 65537 as the big-endian bytes WebCrypto wants. */
function exponentBytes(): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  for (let e = RSA_EXPONENT; e > 0; e = Math.floor(e / 256)) out.unshift(e % 256);
  return new Uint8Array(out);
}

/**
 * A copy the caller cannot mutate while an async operation reads it; also turns any
 * `Uint8Array<ArrayBufferLike>` (e.g. over a SharedArrayBuffer) into one `crypto.subtle` takes.
 */
function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
