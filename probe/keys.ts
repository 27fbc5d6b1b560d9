/**
 * The probe's keys: two RSA-4096 users and one RSA-4096 server key, plus the weak keys of the
 * spec's §16 (RSA-1024, RSA-2048, 4096-bit with e = 3) that a correct server must refuse. Read
 * from PEM files (`--keys DIR`), or generated once per run (RSA-4096 generation takes a moment,
 * so progress is reported).
 *
 * Everything the probe signs goes through node:crypto with a chosen PSS salt length, because
 * peers disagree on it (SOCP-1.3.md §5.3, §15 P2) and our backend signs with 32 only.
 * @module
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { b64uEncode } from "../protocol/base64url.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";

/** A key the probe can sign with. `spki` is base64url DER SPKI, the form we send. */
export interface SigningKey {
  readonly label: string;
  readonly spki: string;
  /** node:crypto private key, for PSS signatures with any salt length. */
  readonly signer: KeyObject;
}

/** An RSA-4096 key: also usable for OAEP decryption through the backend. */
export interface StrongKey extends SigningKey {
  readonly priv: PrivateKey;
}

/** All keys of one run. */
export interface ProbeKeys {
  readonly a: StrongKey;
  readonly b: StrongKey;
  readonly server: StrongKey;
  readonly rsa1024: SigningKey;
  readonly rsa2048: SigningKey;
  readonly e3: SigningKey;
}

/** A key file that exists but cannot be used. */
export class KeyFileError extends Error {
  override name = "KeyFileError";
}

type WeakName = "rsa1024" | "rsa2048" | "e3";

/** File names looked for in `--keys DIR`, first match wins (the fixture names come second). */
export const KEY_FILES: Readonly<Record<keyof ProbeKeys, readonly string[]>> = {
  a: ["a.pem", "alice.pem"],
  b: ["b.pem", "bob.pem"],
  server: ["server.pem", "server5.pem"],
  rsa1024: ["weak1024.pem"],
  rsa2048: ["weak2048.pem"],
  e3: ["e3.pem"],
};

const WEAK: Readonly<Record<WeakName, { bits: number; e: number; label: string }>> = {
  rsa1024: { bits: 1024, e: 65537, label: "RSA-1024" },
  rsa2048: { bits: 2048, e: 65537, label: "RSA-2048" },
  e3: { bits: 4096, e: 3, label: "RSA-4096 e=3" },
};

/** Loads the keys found in `dir` and generates the rest, reporting progress through `say`. */
export async function loadKeys(
  backend: RsaBackend,
  dir: string | undefined,
  say: (line: string) => void,
): Promise<ProbeKeys> {
  const texts = await readKeyFiles(dir);
  const missing = (Object.keys(KEY_FILES) as (keyof ProbeKeys)[]).filter((n) => !texts.has(n));
  let done = 0;
  const made = (label: string) => say(`probe: generated ${label} (${++done}/${missing.length})`);
  if (missing.length > 0) {
    say(
      `probe: generating ${missing.length} key(s): ${missing.join(", ")}` +
        (dir === undefined ? " (pass --keys DIR to reuse PEM files)" : ` (not found in ${dir})`),
    );
  }
  const strong = (name: "a" | "b" | "server", label: string) =>
    strongKey(backend, texts.get(name), label, made);
  const weak = (name: WeakName) => weakKey(name, texts.get(name), made);
  const [a, b, server, rsa1024, rsa2048, e3] = await Promise.all([
    strong("a", "user A"),
    strong("b", "user B"),
    strong("server", "the probe's server"),
    weak("rsa1024"),
    weak("rsa2048"),
    weak("e3"),
  ]);
  return { a, b, server, rsa1024, rsa2048, e3 };
}

/** A PEM file found for a key. */
interface KeyText {
  path: string;
  text: string;
}

/** The key files present in `dir`, by key name (the first of each name's file names). */
async function readKeyFiles(dir: string | undefined): Promise<Map<keyof ProbeKeys, KeyText>> {
  const texts = new Map<keyof ProbeKeys, KeyText>();
  if (dir === undefined) return texts;
  for (const [name, files] of Object.entries(KEY_FILES) as [keyof ProbeKeys, string[]][]) {
    for (const file of files) {
      const path = join(dir, file);
      const text = await readIfExists(path);
      if (text !== undefined) {
        texts.set(name, { path, text });
        break;
      }
    }
  }
  return texts;
}

/** An RSA-4096 key from its file, or a new one (`made` is told). */
async function strongKey(
  backend: RsaBackend,
  file: KeyText | undefined,
  label: string,
  made: (label: string) => void,
): Promise<StrongKey> {
  let priv: PrivateKey;
  if (file) {
    try {
      priv = await backend.importPrivate(file.text);
    } catch (e) {
      throw new KeyFileError(`${file.path}: ${(e as Error).message}`);
    }
  } else {
    priv = await backend.generate();
    made(`RSA-4096 key for ${label}`);
  }
  const der = await backend.exportPrivate(priv);
  const signer = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  return { label, spki: priv.publicKey.spki, signer, priv };
}

/** A deliberately weak key from its file (which must be that weak), or a new one. */
async function weakKey(
  name: WeakName,
  file: KeyText | undefined,
  made: (label: string) => void,
): Promise<SigningKey> {
  const { bits, e, label } = WEAK[name];
  let signer: KeyObject;
  if (file) {
    try {
      signer = createPrivateKey(file.text);
    } catch (err) {
      throw new KeyFileError(`${file.path}: not a private key (${(err as Error).message})`);
    }
  } else {
    signer = await generateRsa(bits, e);
    made(`${label} key`);
  }
  const details = signer.asymmetricKeyDetails;
  if (
    signer.asymmetricKeyType !== "rsa" || details?.modulusLength !== bits ||
    details?.publicExponent !== BigInt(e)
  ) {
    const actual = `${signer.asymmetricKeyType} ${details?.modulusLength ?? "?"} bits e=${
      details?.publicExponent ?? "?"
    }`;
    throw new KeyFileError(`${file?.path}: expected an ${label} key, got ${actual}`);
  }
  const spki = b64uEncode(createPublicKey(signer).export({ type: "spki", format: "der" }));
  return { label, spki, signer };
}

/**
 * RSASSA-PSS-SHA256 over `bytes`, base64url. The salt is capped at what the key can hold
 * (k - hLen - 2 bytes: 478 for RSA-4096, 94 for RSA-1024), as PSS.MAX_LENGTH is.
 */
export function signBytes(key: SigningKey, bytes: Uint8Array, saltLength: number): string {
  const modulusBytes = (key.signer.asymmetricKeyDetails?.modulusLength ?? 4096) / 8;
  return b64uEncode(
    sign("sha256", bytes, {
      key: key.signer,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Math.min(saltLength, modulusBytes - 32 - 2),
    }),
  );
}

/** Transport signature over the canonical payload (§5.1). */
export function signPayloadWith(key: SigningKey, payload: unknown, saltLength: number): string {
  return signBytes(key, canonicalBytes(payload, "ascii"), saltLength);
}

function generateRsa(bits: number, e: number): Promise<KeyObject> {
  return new Promise((resolve, reject) =>
    generateKeyPair(
      "rsa",
      { modulusLength: bits, publicExponent: e },
      (err, _pub, priv) => err ? reject(err) : resolve(priv),
    )
  );
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new KeyFileError(`${path}: ${(e as Error).message}`);
  }
}
