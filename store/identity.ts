/**
 * The server's identity: a UUID v4 and an RSA-4096 key pair, created on first start and reused
 * after. The private key lives in `server_key.pem` with mode 0600 and is never logged.
 * @module
 */
import { join } from "node:path";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import type { Random } from "../lib/world.ts";
import { writeFileAtomic } from "../lib/write_file.ts";

/** A server's permanent identity. */
export interface Identity {
  server_id: string;
  key: PrivateKey;
}

/** File names inside a data dir. */
export const IDENTITY_FILE = "identity.json";
export const SERVER_KEY_FILE = "server_key.pem";

/**
 * Loads the identity of `dataDir`, creating whatever is missing. Creating a key takes seconds;
 * `onProgress` is told before it starts.
 */
export async function loadOrCreateIdentity(
  dataDir: string,
  backend: RsaBackend,
  random: Random,
  onProgress: (message: string) => void = () => {},
): Promise<Identity> {
  await Deno.mkdir(dataDir, { recursive: true });
  const keyPath = join(dataDir, SERVER_KEY_FILE);
  let key: PrivateKey;
  const pem = await readIfExists(keyPath);
  if (pem !== undefined) {
    const mode = (await Deno.stat(keyPath)).mode ?? 0;
    if ((mode & 0o077) !== 0) await Deno.chmod(keyPath, 0o600);
    key = await backend.importPrivate(pem);
  } else {
    onProgress("Generating this server's RSA-4096 key (takes a few seconds)...");
    key = await backend.generate();
    await writePrivate(keyPath, await backend.exportPrivate(key));
  }
  const idPath = join(dataDir, IDENTITY_FILE);
  const saved = await readIfExists(idPath);
  let serverId: string;
  if (saved !== undefined) {
    const parsed = JSON.parse(saved) as { server_id?: unknown };
    if (typeof parsed.server_id !== "string") {
      throw new TypeError(`Cannot load identity: "${idPath}" has no server_id`);
    }
    serverId = parsed.server_id;
  } else {
    serverId = random.uuid();
  }
  await writeFileAtomic(
    idPath,
    JSON.stringify({ server_id: serverId, pubkey: key.publicKey.spki }, null, 2) + "\n",
  );
  return { server_id: serverId, key };
}

/** Replaces the server id (when an introducer assigns a different one, §3.1.2). */
export async function saveServerId(dataDir: string, identity: Identity): Promise<void> {
  await writeFileAtomic(
    join(dataDir, IDENTITY_FILE),
    JSON.stringify(
      { server_id: identity.server_id, pubkey: identity.key.publicKey.spki },
      null,
      2,
    ) + "\n",
  );
}

async function writePrivate(path: string, pkcs8: Uint8Array): Promise<void> {
  const b64 = btoa(String.fromCharCode(...pkcs8)).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  const text = `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
  // Created with 0600 so the key is never readable by others, not even briefly.
  await writeFileAtomic(path, text, { mode: 0o600, createNew: true });
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
