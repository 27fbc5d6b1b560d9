/**
 * The known-answer checks a libcrypto passes before the server first signs with it: the
 * project's pyca-made vectors (tests/vectors/socp-1.3-vectors.json) verify, tampering is
 * caught, the vector OAEP ciphertext decrypts to its plaintext, and what it signs or encrypts
 * is accepted by WebCrypto, and the other way round. A fast subset of `_backend_contract.ts`.
 * @module
 */
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { sha256 } from "./hash.ts";
import { createDigestSigner } from "./openssl.ts";
import { signPayload, verifyPayload } from "./signing.ts";
import type { PrivateKey, RsaBackend } from "./types.ts";
import { webCrypto } from "./webcrypto.ts";

const VECTORS = new URL("../tests/vectors/socp-1.3-vectors.json", import.meta.url);

/** Runs the checks; undefined when all pass, else what failed. */
export async function knownAnswerFailure(backend: RsaBackend): Promise<string | undefined> {
  try {
    const V = JSON.parse(await Deno.readTextFile(VECTORS));
    const key = await backend.importPrivate(V.key.private_pkcs8_pem);
    if (key.publicKey.spki !== V.key.public_spki_b64u) return "vector key: SPKI differs";
    const reference = await webCrypto.importPrivate(V.key.private_pkcs8_pem);
    for (const c of V.transport_sig) {
      for (const sig of [c.sig_salt32, c.sig_salt478]) {
        if (!await verifyPayload(backend, key.publicKey, c.payload, sig)) {
          return "a vector transport signature does not verify";
        }
      }
      const other = { ...c.payload, tampered: true };
      if (await verifyPayload(backend, key.publicKey, other, c.sig_salt32)) {
        return "a signature verifies over a changed payload";
      }
      const ours = await signPayload(backend, key, c.payload);
      if (!await verifyPayload(webCrypto, reference.publicKey, c.payload, ours)) {
        return "WebCrypto does not verify its signature";
      }
      const threads = digestSigned(key, c.payload);
      if (
        threads !== undefined &&
        !await verifyPayload(webCrypto, reference.publicKey, c.payload, threads)
      ) {
        return "WebCrypto does not verify what the signing threads sign";
      }
    }
    const plain = b64uDecode(V.oaep_446_bytes.plaintext_b64u)!;
    const decrypted = await backend.decrypt(key, b64uDecode(V.oaep_446_bytes.ciphertext)!);
    if (decrypted === undefined || !equal(decrypted, plain)) return "vector OAEP does not decrypt";
    const back = await webCrypto.decrypt(reference, await backend.encrypt(key.publicKey, plain));
    if (back === undefined || !equal(back, plain)) return "WebCrypto cannot decrypt its OAEP";
    return undefined;
  } catch (e) {
    return `known-answer checks threw: ${e instanceof Error ? e.message : e}`;
  }
}

/**
 * The signature the signing threads make of `payload` (PSS over its SHA-256, `sign_pool.ts`);
 * undefined for a key that is not OpenSSL's.
 */
function digestSigned(key: PrivateKey, payload: unknown): string | undefined {
  let signer;
  try {
    signer = createDigestSigner(key);
  } catch (e) {
    if (e instanceof TypeError) return undefined;
    throw e;
  }
  const signature = new Uint8Array(512);
  signer.sign(sha256(canonicalBytes(payload, "ascii")), signature);
  return b64uEncode(signature);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
