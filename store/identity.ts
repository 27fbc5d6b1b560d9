/**
 * The server's identity: a UUID v4 and an RSA-4096 key pair, created on first start and reused
 * after. The private key lives in `server_key.pem` with mode 0600 and is never logged.
 * @module
 */
import { join } from "node:path";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import type { Random } from "../lib/world.ts";
import { StartupError } from "../lib/startup_error.ts";
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
 * Reads the identity of `dataDir` without writing anything: undefined when it holds no server
 * key; `server_id` is "" when the key has no id file yet. A key or id file that cannot be used
 * is a {@linkcode StartupError} naming the file.
 */
export async function readIdentity(
  dataDir: string,
  backend: RsaBackend,
): Promise<Identity | undefined> {
  const keyPath = join(dataDir, SERVER_KEY_FILE);
  const pem = await readIfExists(keyPath);
  if (pem === undefined) return undefined;
  let key: PrivateKey;
  try {
    key = await backend.importPrivate(pem);
  } catch (e) {
    throw new StartupError(
      `Server key "${keyPath}" is not a usable private key (${(e as Error).message}): restore ` +
        `it from a backup, or move it away to give this server a new identity.`,
    );
  }
  const idPath = join(dataDir, IDENTITY_FILE);
  const saved = await readIfExists(idPath);
  if (saved === undefined) return { server_id: "", key };
  let serverId: unknown;
  try {
    serverId = (JSON.parse(saved) as { server_id?: unknown }).server_id;
  } catch {
    serverId = undefined;
  }
  if (typeof serverId !== "string" || serverId === "") {
    throw new StartupError(
      `Identity file "${idPath}" holds no server_id: restore it from a backup, or move it ` +
        `away to take a new server id.`,
    );
  }
  return { server_id: serverId, key };
}

/**
 * Completes `found` (from {@linkcode readIdentity}) into a saved identity: creates the key when
 * there is none (seconds; `onProgress` is told first), draws a server id when there is none,
 * narrows a key file readable by others to 0600, and writes `identity.json`.
 */
export async function saveIdentity(
  dataDir: string,
  found: Identity | undefined,
  backend: RsaBackend,
  random: Random,
  onProgress: (message: string) => void = () => {},
): Promise<Identity> {
  await makeDataDir(dataDir);
  const keyPath = join(dataDir, SERVER_KEY_FILE);
  let key = found?.key;
  if (key !== undefined) {
    const mode = (await Deno.stat(keyPath)).mode ?? 0;
    if ((mode & 0o077) !== 0) await Deno.chmod(keyPath, 0o600);
  } else {
    onProgress("Generating this server's RSA-4096 key (takes a few seconds)...");
    key = await backend.generate();
    await writePrivate(keyPath, await backend.exportPrivate(key));
  }
  const identity = { server_id: found?.server_id || random.uuid(), key };
  await saveServerId(dataDir, identity);
  return identity;
}

/**
 * Creates `dir` (and missing parents) open to this user only: it holds the server key and the
 * users' encrypted keystores. The umask can only narrow 0700. An existing directory is left as
 * it is.
 */
async function makeDataDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StartupError(
      `Cannot create data dir "${dir}" (${(e as Error).message}): create it yourself or pass ` +
        `another --data-dir.`,
    );
  }
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
    throw new StartupError(
      `Cannot read "${path}" (${(e as Error).message}): fix its owner or mode, or pass another ` +
        `--data-dir.`,
    );
  }
}
