/**
 * The OpenSSL implementation of {@linkcode RsaBackend}: the system `libcrypto.so.3` (OpenSSL 3)
 * through Deno FFI, the fast path of PLATFORM.md §1–§2 (about 2× WebCrypto on private-key
 * operations and 10× on verify/encrypt).
 *
 * - **Keys.** Every key enters through `key_import.ts` (tolerant parsing, RSA-4096/65537 check,
 *   canonical DER), then becomes one `EVP_PKEY` per key: public keys from DER SPKI
 *   (`d2i_PUBKEY`), private keys from PKCS#8 DER (`d2i_AutoPrivateKey`). A private key carries a
 *   separate public `EVP_PKEY`. The `EVP_PKEY` is freed by a `FinalizationRegistry` once its JS
 *   handle is garbage; an operation in flight keeps its handle reachable until it settles.
 * - **Keys of another backend** (e.g. WebCrypto) are refused with a `TypeError`, as the WebCrypto
 *   backend refuses ours. Mixing backends is a programming error; convert explicitly:
 *   `importPublic(key.spki)` for a public key, `importPrivate(await other.exportPrivate(key))`
 *   for a private one.
 * - **Threads.** Sign, decrypt and generate run with `nonblocking: true` on Deno's blocking pool;
 *   at most `privateOpsInFlightMax` sign/decrypt calls are in flight, and one key generation.
 *   Verify and encrypt (about 0.1 ms) are plain synchronous calls. Every call has its own
 *   `EVP_MD_CTX`/`EVP_PKEY_CTX`; one `EVP_PKEY` is shared safely across threads. A signing
 *   thread (`sign_worker.ts`) instead signs SHA-256 digests through {@linkcode createDigestSigner}:
 *   blocking calls on one `EVP_PKEY_CTX` per key, made and used by that thread only.
 * - **Errors.** After a failure on the main thread the OpenSSL error queue is read (for the
 *   message) and cleared, so a stale error never leaks into a later message. A failure inside a
 *   nonblocking call leaves its entry in that pool thread's queue, which OpenSSL bounds (a ring of
 *   16) and which no main-thread message ever reads.
 * - **PSS salt.** Signing uses salt 32. Verifying accepts exactly salt 32 or 478 (§15 P2), the
 *   same set as the WebCrypto backend, so a journal replayed on either backend reaches the same
 *   verdicts. Each key remembers which salt its last good signature used and tries that first, so
 *   a peer that signs with 478 costs one RSA operation per frame, not two.
 * @module
 */

import { b64uEncode } from "../protocol/base64url.ts";
import {
  CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX,
  OAEP_PLAINTEXT_BYTES_MAX,
  PSS_SALT_BYTES,
  PSS_SALT_MAX_BYTES,
  RSA_BITS,
} from "../protocol/limits.ts";
import { type ParsedPrivateKey, parsePrivateKey, parsePublicKey } from "./key_import.ts";
import { Semaphore } from "./semaphore.ts";
import type { KeyImport, LibraryInfo, PrivateKey, PublicKey, RsaBackend } from "./types.ts";

/** Bytes in a SHA-256 digest. */
const SHA256_BYTES = 32;
/** Bytes in an RSA-4096 signature or OAEP ciphertext. */
const RSA_BLOCK_BYTES = RSA_BITS / 8;
const RSA_BLOCK_BYTES_N = BigInt(RSA_BLOCK_BYTES);

/** `EVP_PKEY_RSA` (= `NID_rsaEncryption`). */
const EVP_PKEY_RSA = 6;
/** `RSA_PKCS1_OAEP_PADDING`. */
const RSA_PKCS1_OAEP_PADDING = 4;
/** `RSA_PKCS1_PSS_PADDING`. */
const RSA_PKCS1_PSS_PADDING = 6;
/**
 * `OPENSSL_INIT_NO_ATEXIT`: no `OPENSSL_cleanup` at process exit. That cleanup races with the exit
 * of Deno's blocking-pool threads, whose OpenSSL thread-state destructors free the same memory:
 * "double free or corruption" and SIGABRT at exit, about 1 run in 15 here. The OS frees it all.
 */
const OPENSSL_INIT_NO_ATEXIT = 0x00080000n;
/** Oldest libcrypto we accept: the setters used here are real functions only from 3.0 on. */
const OPENSSL_VERSION_MIN = 0x30000000n;

/** The libcrypto symbols we use, with their C types in the comments. */
const SYMBOLS = {
  // int OPENSSL_init_crypto(uint64_t opts, const OPENSSL_INIT_SETTINGS *settings)
  OPENSSL_init_crypto: { parameters: ["u64", "pointer"], result: "i32" },
  // unsigned long OpenSSL_version_num(void)
  OpenSSL_version_num: { parameters: [], result: "u64" },
  // unsigned long ERR_get_error(void)
  ERR_get_error: { parameters: [], result: "u64" },
  // void ERR_error_string_n(unsigned long e, char *buf, size_t len)
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  // void ERR_clear_error(void)
  ERR_clear_error: { parameters: [], result: "void" },
  // const EVP_MD *EVP_sha256(void)
  EVP_sha256: { parameters: [], result: "pointer" },
  // EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length)
  d2i_PUBKEY: { parameters: ["pointer", "buffer", "i64"], result: "pointer" },
  // EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length)
  d2i_AutoPrivateKey: { parameters: ["pointer", "buffer", "i64"], result: "pointer" },
  // PKCS8_PRIV_KEY_INFO *EVP_PKEY2PKCS8(const EVP_PKEY *pkey)
  EVP_PKEY2PKCS8: { parameters: ["pointer"], result: "pointer" },
  // int i2d_PKCS8_PRIV_KEY_INFO(const PKCS8_PRIV_KEY_INFO *a, unsigned char **pp)
  i2d_PKCS8_PRIV_KEY_INFO: { parameters: ["pointer", "buffer"], result: "i32" },
  // void PKCS8_PRIV_KEY_INFO_free(PKCS8_PRIV_KEY_INFO *a)
  PKCS8_PRIV_KEY_INFO_free: { parameters: ["pointer"], result: "void" },
  // int EVP_PKEY_get_bits(const EVP_PKEY *pkey)
  EVP_PKEY_get_bits: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_get_base_id(const EVP_PKEY *pkey)
  EVP_PKEY_get_base_id: { parameters: ["pointer"], result: "i32" },
  // void EVP_PKEY_free(EVP_PKEY *pkey)
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  // EVP_MD_CTX *EVP_MD_CTX_new(void)
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  // void EVP_MD_CTX_free(EVP_MD_CTX *ctx): also frees the EVP_PKEY_CTX the Init call made
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  // int EVP_DigestSignInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type,
  //                        ENGINE *e, EVP_PKEY *pkey)
  EVP_DigestSignInit: {
    parameters: ["pointer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // int EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sig, size_t *siglen,
  //                    const unsigned char *tbs, size_t tbslen)
  EVP_DigestSign: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size,
  //                const EVP_MD *type, ENGINE *impl)
  EVP_Digest: {
    parameters: ["buffer", "usize", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  // int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_verify_init: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen,
  //                     const unsigned char *tbs, size_t tbslen)
  EVP_PKEY_verify: { parameters: ["pointer", "buffer", "usize", "buffer", "usize"], result: "i32" },
  // int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_sign_init: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_sign(EVP_PKEY_CTX *ctx, unsigned char *sig, size_t *siglen,
  //                   const unsigned char *tbs, size_t tbslen)
  // Blocks the calling thread: only a signing thread calls it (createDigestSigner).
  EVP_PKEY_sign: { parameters: ["pointer", "buffer", "buffer", "buffer", "usize"], result: "i32" },
  // int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md)
  EVP_PKEY_CTX_set_signature_md: { parameters: ["pointer", "pointer"], result: "i32" },
  // EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, ENGINE *e)
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer" },
  // EVP_PKEY_CTX *EVP_PKEY_CTX_new_id(int id, ENGINE *e)
  EVP_PKEY_CTX_new_id: { parameters: ["i32", "pointer"], result: "pointer" },
  // void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx)
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" },
  // int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad)
  EVP_PKEY_CTX_set_rsa_padding: { parameters: ["pointer", "i32"], result: "i32" },
  // int EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int saltlen)
  EVP_PKEY_CTX_set_rsa_pss_saltlen: { parameters: ["pointer", "i32"], result: "i32" },
  // int EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX *ctx, const EVP_MD *md)
  EVP_PKEY_CTX_set_rsa_mgf1_md: { parameters: ["pointer", "pointer"], result: "i32" },
  // int EVP_PKEY_CTX_set_rsa_oaep_md(EVP_PKEY_CTX *ctx, const EVP_MD *md)
  EVP_PKEY_CTX_set_rsa_oaep_md: { parameters: ["pointer", "pointer"], result: "i32" },
  // int EVP_PKEY_CTX_set_rsa_keygen_bits(EVP_PKEY_CTX *ctx, int bits)
  EVP_PKEY_CTX_set_rsa_keygen_bits: { parameters: ["pointer", "i32"], result: "i32" },
  // int EVP_PKEY_encrypt_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_encrypt_init: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_encrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen,
  //                      const unsigned char *in, size_t inlen)
  EVP_PKEY_encrypt: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
  },
  // int EVP_PKEY_decrypt_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_decrypt_init: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_decrypt(EVP_PKEY_CTX *ctx, unsigned char *out, size_t *outlen,
  //                      const unsigned char *in, size_t inlen)
  EVP_PKEY_decrypt: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // int EVP_PKEY_keygen_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_keygen_init: { parameters: ["pointer"], result: "i32" },
  // int EVP_PKEY_generate(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey)
  EVP_PKEY_generate: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The same symbols with every call on the calling thread, for a worker that does nothing but
 * sign (`sign_pool.ts`): it blocks only itself, and starts its next signature without a trip
 * through Deno's thread pool. `await` on the plain results works the same.
 */
const BLOCKING_SYMBOLS = Object.fromEntries(
  Object.entries(SYMBOLS).map(([name, def]) => [name, { ...def, nonblocking: false }]),
) as unknown as typeof SYMBOLS;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
type Pointer = Deno.PointerObject;

/** One loaded libcrypto: its symbols, SHA-256, and the registry that frees its keys. */
interface LibCrypto {
  readonly info: LibraryInfo;
  readonly sym: Symbols;
  readonly sha256: Pointer;
  readonly keys: FinalizationRegistry<Pointer>;
  /**
   * Frees the `EVP_PKEY_CTX` of a {@linkcode DigestSigner}, or of a public key's verifications,
   * once its owner is garbage.
   */
  readonly contexts: FinalizationRegistry<Pointer>;
}

/** Options for {@linkcode createOpenSslBackend}. */
export interface OpenSslOptions {
  /**
   * The libcrypto to load. Default: the system's `libcrypto.so.3` (the usual absolute paths,
   * then the dynamic linker's search path; on macOS `libcrypto.3.dylib`, then the Homebrew locations).
   */
  readonly libraryPath?: string;
  /** Sign/decrypt calls in flight at once (default `CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX`). */
  readonly privateOpsInFlightMax?: number;
  /** Private-key calls block the calling thread (only for a worker that does nothing else). */
  readonly blocking?: boolean;
  /** Told why the backend is unavailable when {@linkcode createOpenSslBackend} returns `undefined`. */
  readonly onUnavailable?: (reason: string) => void;
}

/**
 * Creates an OpenSSL backend, or returns `undefined` (after telling `options.onUnavailable` why)
 * when libcrypto cannot be used: no full `--allow-ffi` permission (checked without prompting),
 * library missing, older than 3.0, or a symbol missing. Never throws for those.
 */
export function createOpenSslBackend(options: OpenSslOptions = {}): RsaBackend | undefined {
  const loaded = loadLibCrypto(options.libraryPath, options.blocking ?? false);
  if (!loaded.ok) {
    options.onUnavailable?.(loaded.reason);
    return undefined;
  }
  return makeBackend(
    loaded.lib,
    new Semaphore(options.privateOpsInFlightMax ?? CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX),
  );
}

// ---------------------------------------------------------------------------------------------
// Loading

const libraries = new Map<string, LibCrypto>();

function defaultPaths(): string[] {
  if (Deno.build.os === "darwin") {
    return [
      "libcrypto.3.dylib",
      "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib",
      "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib",
    ];
  }
  if (Deno.build.os === "windows") return ["libcrypto-3-x64.dll"];
  // Absolute paths first: a bare soname would resolve to any libcrypto.so.3 this process has
  // loaded already, such as the current OpenSSL from the user's cache.
  return [
    `/usr/lib/${Deno.build.arch}-linux-gnu/libcrypto.so.3`,
    "/usr/lib64/libcrypto.so.3",
    "/usr/lib/libcrypto.so.3",
    "libcrypto.so.3",
  ];
}

function loadLibCrypto(
  path: string | undefined,
  blocking: boolean,
): { ok: true; lib: LibCrypto } | { ok: false; reason: string } {
  // Plain --allow-ffi is needed: with a path-scoped grant dlopen works but UnsafePointer.of /
  // create / value throw (PLATFORM.md §1). querySync never prompts, unlike dlopen.
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch (e) {
    return { ok: false, reason: `cannot query ffi permission: ${message(e)}` };
  }
  if (state !== "granted") return { ok: false, reason: "needs the plain --allow-ffi permission" };
  const reasons: string[] = [];
  for (const candidate of path === undefined ? defaultPaths() : [path]) {
    const cacheKey = `${blocking ? "blocking" : "nonblocking"}:${candidate}`;
    const cached = libraries.get(cacheKey);
    if (cached !== undefined) return { ok: true, lib: cached };
    let library: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      library = Deno.dlopen(candidate, blocking ? BLOCKING_SYMBOLS : SYMBOLS);
    } catch (e) {
      reasons.push(`${candidate}: ${firstLine(message(e))}`);
      continue;
    }
    const sym = library.symbols;
    const version = BigInt(sym.OpenSSL_version_num());
    if (version < OPENSSL_VERSION_MIN) {
      library.close();
      reasons.push(`${candidate}: OpenSSL ${versionText(version)} is older than 3.0`);
      continue;
    }
    // First call that initialises the library (OpenSSL_version_num does not), so that no atexit
    // handler is registered. It only takes effect if nothing in this process initialised this
    // libcrypto before.
    if (sym.OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, null) !== 1) {
      library.close();
      reasons.push(`${candidate}: OPENSSL_init_crypto failed`);
      continue;
    }
    const sha256 = sym.EVP_sha256();
    if (sha256 === null) {
      library.close();
      reasons.push(`${candidate}: EVP_sha256() returned NULL`);
      continue;
    }
    const lib: LibCrypto = {
      info: Object.freeze({ name: "OpenSSL", version: versionText(version), path: candidate }),
      sym,
      sha256,
      keys: new FinalizationRegistry((pkey) => sym.EVP_PKEY_free(pkey)),
      contexts: new FinalizationRegistry((ctx) => sym.EVP_PKEY_CTX_free(ctx)),
    };
    libraries.set(cacheKey, lib);
    return { ok: true, lib };
  }
  return { ok: false, reason: reasons.join("; ") };
}

/** Version of the libcrypto a backend of this process loaded ("3.0.15"), or undefined. */
export function loadedLibCryptoVersion(): string | undefined {
  const lib = libraries.values().next().value;
  return lib ? versionText(BigInt(lib.sym.OpenSSL_version_num())) : undefined;
}

function versionText(v: bigint): string {
  // 0xMNN00PP0L: major, minor, patch.
  return `${v >> 28n}.${(v >> 20n) & 0xffn}.${(v >> 4n) & 0xffn}`;
}

// ---------------------------------------------------------------------------------------------
// Key handles

/** Our handle on a public key; `salt` is the PSS salt length to try first. */
class PublicHandle {
  salt = PSS_SALT_BYTES;
  /** Set up on first use and kept (see {@linkcode verifierOf}). */
  verifier: Pointer | undefined;
  /** The salt length `verifier` is set to. */
  verifierSalt: number | undefined;
  constructor(readonly lib: LibCrypto, readonly pkey: Pointer) {
    lib.keys.register(this, pkey);
  }
}

/** Our handle on a private key. */
class PrivateHandle {
  constructor(readonly lib: LibCrypto, readonly pkey: Pointer) {
    lib.keys.register(this, pkey);
  }
}

// ---------------------------------------------------------------------------------------------
// Signing a digest, on a signing thread

/** Signs SHA-256 digests with one private key (see {@linkcode createDigestSigner}). */
export interface DigestSigner {
  /**
   * Writes into `signature` (512 bytes) the RSASSA-PSS-SHA256 signature (salt 32, MGF1-SHA256)
   * of the message whose SHA-256 is `digest`: a signature of that message, as `sign` makes.
   * Blocks the calling thread for the whole RSA operation; throws when OpenSSL fails.
   */
  sign(digest: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): void;
}

/**
 * A signer of prehashed messages with `key` (a private key of an OpenSSL backend), for a signing
 * thread (`sign_worker.ts`): the pool hashes each message itself, so only 32 bytes travel to the
 * signing thread, and signing the digest costs the same as `EVP_DigestSign` on the message. One
 * `EVP_PKEY_CTX` is set up here and reused by every signature, so a signer belongs to the thread
 * that made it (an OpenSSL context must not be used by two threads at once); it is freed once
 * the signer is garbage. Its calls block: only for a thread that does nothing else.
 */
export function createDigestSigner(key: PrivateKey): DigestSigner {
  const handle = key?.handle;
  if (!(handle instanceof PrivateHandle)) throw new TypeError("Not an OpenSSL private key");
  const { sym, sha256, contexts } = handle.lib;
  // The context holds its own reference to the EVP_PKEY, so it outlives the key's handle.
  const ctx = sym.EVP_PKEY_CTX_new(handle.pkey, null);
  if (ctx === null) throw new Error(failureText(sym, "EVP_PKEY_CTX_new"));
  if (
    sym.EVP_PKEY_sign_init(ctx) !== 1 ||
    sym.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) !== 1 ||
    sym.EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, PSS_SALT_BYTES) !== 1 ||
    sym.EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256) !== 1 ||
    sym.EVP_PKEY_CTX_set_signature_md(ctx, sha256) !== 1
  ) {
    const why = failureText(sym, "PSS digest signing setup");
    sym.EVP_PKEY_CTX_free(ctx);
    throw new Error(why);
  }
  const sigLen = new BigUint64Array(1);
  const signer: DigestSigner = Object.freeze({
    sign(digest: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>): void {
      if (digest.length !== SHA256_BYTES || signature.length !== RSA_BLOCK_BYTES) {
        throw new RangeError(
          `sign: a ${SHA256_BYTES}-byte digest and ${RSA_BLOCK_BYTES} bytes out`,
        );
      }
      sigLen[0] = RSA_BLOCK_BYTES_N;
      const ok = sym.EVP_PKEY_sign(ctx, signature, sigLen, digest, BigInt(SHA256_BYTES));
      if (ok !== 1 || sigLen[0] !== RSA_BLOCK_BYTES_N) {
        throw new Error(failureText(sym, "EVP_PKEY_sign"));
      }
    },
  });
  contexts.register(signer, ctx);
  return signer;
}

// ---------------------------------------------------------------------------------------------
// Verifying, on the calling thread

/**
 * One synchronous PSS verification of the SHA-256 `digest` with an exact salt length; never
 * throws. The salt length is the one setting that differs between calls.
 */
function verifyWithSalt(
  handle: PublicHandle,
  digest: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
  salt: number,
): boolean {
  const { sym } = handle.lib;
  const ctx = verifierOf(handle);
  const ok = ctx !== undefined && saltSet(handle, ctx, salt) &&
    sym.EVP_PKEY_verify(ctx, signature, RSA_BLOCK_BYTES_N, digest, BigInt(SHA256_BYTES)) === 1;
  if (!ok) sym.ERR_clear_error();
  return ok;
}

/**
 * The key's verification context: PSS, MGF1-SHA256 over a SHA-256 digest. Made once per key
 * and reused by every verification (OpenSSL allows repeated `EVP_PKEY_verify` calls on one
 * context): setting one up cost a third of each verification. Only this thread uses it, and
 * it is freed once the key's handle is garbage.
 */
function verifierOf(handle: PublicHandle): Pointer | undefined {
  if (handle.verifier !== undefined) return handle.verifier;
  const { sym, sha256, contexts } = handle.lib;
  const ctx = sym.EVP_PKEY_CTX_new(handle.pkey, null);
  if (ctx === null) return undefined;
  if (
    sym.EVP_PKEY_verify_init(ctx) !== 1 ||
    sym.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) !== 1 ||
    sym.EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256) !== 1 ||
    sym.EVP_PKEY_CTX_set_signature_md(ctx, sha256) !== 1
  ) {
    sym.EVP_PKEY_CTX_free(ctx);
    return undefined;
  }
  contexts.register(handle, ctx);
  return handle.verifier = ctx;
}

/** Sets the salt length on the key's context unless it already has it. */
function saltSet(handle: PublicHandle, ctx: Pointer, salt: number): boolean {
  if (handle.verifierSalt === salt) return true;
  handle.verifierSalt = undefined;
  if (handle.lib.sym.EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) !== 1) return false;
  handle.verifierSalt = salt;
  return true;
}

/**
 * SHA-256 of the first `length` bytes of `data`, in one call into the library that verifies:
 * `hash.ts` (`node:crypto`) took twice as long on a 2 KB frame (6.3 µs against 3.0), and a
 * server verifies every frame a peer sends.
 */
function digestOf(
  lib: LibCrypto,
  data: Uint8Array<ArrayBuffer>,
  length: number,
): Uint8Array<ArrayBuffer> {
  const digest = new Uint8Array(SHA256_BYTES);
  if (lib.sym.EVP_Digest(data, BigInt(length), digest, null, lib.sha256, null) !== 1) {
    throw new Error(failureText(lib.sym, "EVP_Digest"));
  }
  return digest;
}

/**
 * Objects a nonblocking call reads on another thread (buffers, handles, contexts), held here
 * until it settles so nothing they point at is collected or freed under it.
 */
const inFlight = new Set<readonly unknown[]>();

async function pinned<T>(pins: readonly unknown[], call: () => Promise<T>): Promise<T> {
  inFlight.add(pins);
  try {
    return await call();
  } finally {
    inFlight.delete(pins);
  }
}

// ---------------------------------------------------------------------------------------------
// The backend

function makeBackend(lib: LibCrypto, gate: Semaphore): RsaBackend {
  const { sym, sha256 } = lib;
  /** Key generation takes seconds: one at a time, outside `gate` so signing keeps its slots. */
  const keygenGate = new Semaphore(1);

  const failure = (what: string) => failureText(sym, what);

  /** Parses DER with a `d2i_*` function; the key, or `null` (queue cleared). */
  function d2i(
    fn: (a: null, pp: BufferSource, len: bigint) => Deno.PointerValue,
    der: Uint8Array<ArrayBuffer>,
  ): Pointer | null {
    const pp = new BigUint64Array([addressOf(der)]);
    const pkey = fn(null, pp, BigInt(der.length));
    if (pkey === null) sym.ERR_clear_error();
    return pkey;
  }

  /** True when `pkey` is an RSA-4096 key (key_import.ts checked it already; this is a backstop). */
  function isRsa4096(pkey: Pointer): boolean {
    return sym.EVP_PKEY_get_base_id(pkey) === EVP_PKEY_RSA &&
      sym.EVP_PKEY_get_bits(pkey) === RSA_BITS;
  }

  function publicFromSpki(spkiDer: Uint8Array<ArrayBuffer>, spki: string): PublicKey {
    const pkey = d2i(sym.d2i_PUBKEY, spkiDer);
    if (pkey === null) throw new TypeError("OpenSSL could not read the SPKI DER");
    if (!isRsa4096(pkey)) {
      sym.EVP_PKEY_free(pkey);
      throw new TypeError("OpenSSL does not see an RSA-4096 key in the SPKI DER");
    }
    return Object.freeze({ spki, handle: new PublicHandle(lib, pkey) });
  }

  function privateFromParsed(parsed: ParsedPrivateKey): PrivateKey {
    try {
      const publicKey = publicFromSpki(parsed.spkiDer, b64uEncode(parsed.spkiDer));
      const pkey = d2i(sym.d2i_AutoPrivateKey, parsed.pkcs8Der);
      if (pkey === null) throw new TypeError("OpenSSL could not read the PKCS#8 DER");
      if (!isRsa4096(pkey)) {
        sym.EVP_PKEY_free(pkey);
        throw new TypeError("OpenSSL does not see an RSA-4096 key in the PKCS#8 DER");
      }
      return Object.freeze({ publicKey, handle: new PrivateHandle(lib, pkey) });
    } finally {
      // Our own copy (key_import.ts re-exports fresh DER); the key now lives in OpenSSL only.
      parsed.pkcs8Der.fill(0);
    }
  }

  function exportPkcs8(pkey: Pointer): Uint8Array<ArrayBuffer> {
    const info = sym.EVP_PKEY2PKCS8(pkey);
    if (info === null) throw new Error(failure("EVP_PKEY2PKCS8"));
    try {
      const length = sym.i2d_PKCS8_PRIV_KEY_INFO(info, null);
      if (length <= 0) throw new Error(failure("i2d_PKCS8_PRIV_KEY_INFO"));
      const out = new Uint8Array(length);
      const written = sym.i2d_PKCS8_PRIV_KEY_INFO(info, new BigUint64Array([addressOf(out)]));
      if (written !== length) throw new Error(failure("i2d_PKCS8_PRIV_KEY_INFO"));
      return out;
    } finally {
      sym.PKCS8_PRIV_KEY_INFO_free(info);
    }
  }

  /** Sets PSS padding, the salt length and MGF1-SHA256 on the context an Init call made. */
  function setPss(pctxOut: BigUint64Array<ArrayBuffer>, salt: number): boolean {
    const pctx = Deno.UnsafePointer.create(pctxOut[0]!);
    return pctx !== null &&
      sym.EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) === 1 &&
      sym.EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) === 1 &&
      sym.EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, sha256) === 1;
  }

  /** Sets OAEP with SHA-256 and MGF1-SHA256 (empty label is the default). */
  function setOaep(ctx: Pointer): boolean {
    return sym.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) === 1 &&
      sym.EVP_PKEY_CTX_set_rsa_oaep_md(ctx, sha256) === 1 &&
      sym.EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256) === 1;
  }

  function publicHandle(key: PublicKey): PublicHandle {
    const handle = key?.handle;
    if (!(handle instanceof PublicHandle) || handle.lib !== lib) {
      throw new TypeError(
        "Not an OpenSSL public key of this libcrypto; convert it with importPublic(key.spki)",
      );
    }
    return handle;
  }

  function privateHandle(key: PrivateKey): PrivateHandle {
    const handle = key?.handle;
    if (!(handle instanceof PrivateHandle) || handle.lib !== lib) {
      throw new TypeError(
        "Not an OpenSSL private key of this libcrypto; convert it with " +
          "importPrivate(await otherBackend.exportPrivate(key))",
      );
    }
    return handle;
  }

  // The synchronous methods stay `async` so that a TypeError/RangeError is a rejected Promise,
  // as with WebCrypto, never a synchronous throw.
  return Object.freeze({
    name: "openssl",
    library: lib.info,

    async generate(): Promise<PrivateKey> {
      const pkcs8Der = await keygenGate.run(async () => {
        const ctx = sym.EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, null);
        if (ctx === null) throw new Error(failure("EVP_PKEY_CTX_new_id"));
        try {
          // The public exponent defaults to 65537; key_import.ts checks it below anyway.
          if (
            sym.EVP_PKEY_keygen_init(ctx) !== 1 ||
            sym.EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, RSA_BITS) !== 1
          ) {
            throw new Error(failure("RSA key generation setup"));
          }
          const out = new BigUint64Array(1);
          const ok = await pinned([ctx, out], () => sym.EVP_PKEY_generate(ctx, out));
          const pkey = Deno.UnsafePointer.create(out[0]!);
          if (ok !== 1 || pkey === null) {
            if (pkey !== null) sym.EVP_PKEY_free(pkey);
            throw new Error("OpenSSL EVP_PKEY_generate failed");
          }
          try {
            return exportPkcs8(pkey);
          } finally {
            sym.EVP_PKEY_free(pkey);
          }
        } finally {
          sym.EVP_PKEY_CTX_free(ctx);
        }
      });
      // Re-enter through the one import path: canonical DER, 4096/65537 checked, SPKI derived.
      const parsed = parsePrivateKey(pkcs8Der);
      pkcs8Der.fill(0);
      if (!parsed.ok) throw new Error(`Generated key was refused: ${parsed.reason}`);
      return privateFromParsed(parsed.value);
    },

    // deno-lint-ignore require-await
    async importPrivate(data: Uint8Array | string): Promise<PrivateKey> {
      const parsed = parsePrivateKey(data);
      if (!parsed.ok) throw new TypeError(`Cannot import private key: ${parsed.reason}`);
      return privateFromParsed(parsed.value);
    },

    // deno-lint-ignore require-await
    async exportPrivate(key: PrivateKey): Promise<Uint8Array<ArrayBuffer>> {
      return exportPkcs8(privateHandle(key).pkey);
    },

    // deno-lint-ignore require-await
    async importPublic(text: string): Promise<KeyImport> {
      const parsed = parsePublicKey(text);
      if (!parsed.ok) return parsed;
      try {
        return { ok: true, key: publicFromSpki(parsed.value.spkiDer, parsed.value.spki) };
      } catch {
        // node:crypto accepted it but OpenSSL did not; treat as malformed, never throw.
        return { ok: false, reason: "not a valid RSA public key" };
      }
    },

    async sign(key: PrivateKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
      const handle = privateHandle(key);
      if (!(data instanceof Uint8Array)) throw new TypeError("sign: data must be a Uint8Array");
      // Our own copy: another thread reads it while the caller may change theirs.
      const message = new Uint8Array(data);
      return await gate.run(async () => {
        const mdctx = sym.EVP_MD_CTX_new();
        if (mdctx === null) throw new Error(failure("EVP_MD_CTX_new"));
        try {
          const pctxOut = new BigUint64Array(1);
          if (
            sym.EVP_DigestSignInit(mdctx, pctxOut, sha256, null, handle.pkey) !== 1 ||
            !setPss(pctxOut, PSS_SALT_BYTES)
          ) {
            throw new Error(failure("PSS signing setup"));
          }
          const sig = new Uint8Array(RSA_BLOCK_BYTES);
          const sigLen = new BigUint64Array([RSA_BLOCK_BYTES_N]);
          const ok = await pinned(
            [handle, mdctx, sig, sigLen, message],
            () => sym.EVP_DigestSign(mdctx, sig, sigLen, nonEmpty(message), BigInt(message.length)),
          );
          if (ok !== 1 || sigLen[0] !== RSA_BLOCK_BYTES_N) {
            throw new Error("OpenSSL EVP_DigestSign failed");
          }
          return sig;
        } finally {
          sym.EVP_MD_CTX_free(mdctx);
        }
      });
    },

    // deno-lint-ignore require-await
    async verify(key: PublicKey, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
      const handle = publicHandle(key);
      if (!(data instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      // Wrong-length signatures cannot verify; skip pointless RSA operations.
      if (signature.length !== RSA_BLOCK_BYTES) return false;
      try {
        const digest = digestOf(lib, nonEmpty(arrayBufferBacked(data)), data.length);
        const sig = arrayBufferBacked(signature);
        const first = handle.salt;
        if (verifyWithSalt(handle, digest, sig, first)) return true;
        const second = first === PSS_SALT_BYTES ? PSS_SALT_MAX_BYTES : PSS_SALT_BYTES;
        if (!verifyWithSalt(handle, digest, sig, second)) return false;
        handle.salt = second;
        return true;
      } catch {
        sym.ERR_clear_error();
        return false;
      }
    },

    // deno-lint-ignore require-await
    async encrypt(key: PublicKey, plaintext: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
      const handle = publicHandle(key);
      if (plaintext.length > OAEP_PLAINTEXT_BYTES_MAX) {
        throw new RangeError(
          `Cannot encrypt: plaintext is ${plaintext.length} bytes, RSA-4096 OAEP-SHA256 holds at most ${OAEP_PLAINTEXT_BYTES_MAX}`,
        );
      }
      const ctx = sym.EVP_PKEY_CTX_new(handle.pkey, null);
      if (ctx === null) throw new Error(failure("EVP_PKEY_CTX_new"));
      try {
        if (sym.EVP_PKEY_encrypt_init(ctx) !== 1 || !setOaep(ctx)) {
          throw new Error(failure("OAEP encryption setup"));
        }
        const out = new Uint8Array(RSA_BLOCK_BYTES);
        const outLen = new BigUint64Array([RSA_BLOCK_BYTES_N]);
        const input = nonEmpty(arrayBufferBacked(plaintext));
        if (
          sym.EVP_PKEY_encrypt(ctx, out, outLen, input, BigInt(plaintext.length)) !== 1 ||
          outLen[0] !== RSA_BLOCK_BYTES_N
        ) {
          throw new Error(failure("EVP_PKEY_encrypt"));
        }
        return out;
      } finally {
        sym.EVP_PKEY_CTX_free(ctx);
      }
    },

    async decrypt(
      key: PrivateKey,
      ciphertext: Uint8Array,
    ): Promise<Uint8Array<ArrayBuffer> | undefined> {
      const handle = privateHandle(key);
      if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== RSA_BLOCK_BYTES) {
        return undefined;
      }
      const input = new Uint8Array(ciphertext);
      return await gate.run(async () => {
        const ctx = sym.EVP_PKEY_CTX_new(handle.pkey, null);
        if (ctx === null) {
          sym.ERR_clear_error();
          return undefined;
        }
        try {
          if (sym.EVP_PKEY_decrypt_init(ctx) !== 1 || !setOaep(ctx)) {
            sym.ERR_clear_error();
            return undefined;
          }
          const out = new Uint8Array(RSA_BLOCK_BYTES);
          const outLen = new BigUint64Array([RSA_BLOCK_BYTES_N]);
          const ok = await pinned(
            [handle, ctx, out, outLen, input],
            () => sym.EVP_PKEY_decrypt(ctx, out, outLen, input, RSA_BLOCK_BYTES_N),
          );
          if (ok !== 1) return undefined;
          const plain = out.slice(0, Number(outLen[0]));
          out.fill(0);
          return plain;
        } finally {
          sym.EVP_PKEY_CTX_free(ctx);
        }
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** The address of a buffer's first byte, for a `const unsigned char **` argument. */
function addressOf(bytes: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

/** `bytes` itself when it is backed by an ArrayBuffer (what FFI takes), else a copy. */
function arrayBufferBacked(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

const ONE_BYTE = new Uint8Array(1);

/**
 * FFI passes an empty buffer as NULL; OpenSSL handles (NULL, 0) but that is memcpy-from-NULL
 * territory, so hand it a real byte with length 0 instead.
 */
function nonEmpty(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return bytes.length === 0 ? ONE_BYTE : bytes;
}

/** Reads the oldest queued error for a message and clears the queue. */
function failureText(sym: Symbols, what: string): string {
  const code = sym.ERR_get_error();
  let detail = "no OpenSSL error queued";
  if (BigInt(code) !== 0n) {
    const buf = new Uint8Array(256);
    sym.ERR_error_string_n(code, buf, BigInt(buf.length));
    detail = cString(buf);
  }
  sym.ERR_clear_error();
  return `OpenSSL ${what} failed: ${detail}`;
}

function cString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(end < 0 ? buf : buf.subarray(0, end));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? text;
}
