/**
 * What a server does before it listens: opens its RSA backend, checks its data dir, database,
 * key and TLS files (so a refused start is one sentence and leaves the data dir as it was), and
 * starts its signing threads.
 * @module
 */
import { join as joinPath } from "node:path";
import { chooseLibCrypto, openBackend } from "../../crypto/mod.ts";
import { createSignPool, type PooledBackend } from "../../crypto/sign_pool.ts";
import type { RsaBackend } from "../../crypto/types.ts";
import { type Identity, readIdentity } from "../../store/identity.ts";
import { checkDatabase, checkDataDir } from "../../store/preflight.ts";
import { DATABASE_FILE } from "../../store/store.ts";
import { cryptoLibraryOf, metered } from "../ops/metrics.ts";
import { describeCryptoLibrary } from "../ops/status.ts";
import { ConfigError, type ServerConfig } from "./config.ts";
import type { DialOptions } from "./dial.ts";
import type { ServerWorld } from "./server_world.ts";

/** The backend that does the RSA work, and what to say about it once the start is sure. */
export interface OpenedCrypto {
  base: RsaBackend;
  /** Why the preferred library was not used, if it was not. */
  fallback?: string;
}

/** Opens the given backend, or the libcrypto chosen; `/metrics` learns which. */
export function openCrypto(
  o: { backend?: RsaBackend; libcrypto?: string },
  world: ServerWorld,
): OpenedCrypto {
  const opened = o.backend
    ? { backend: o.backend, origin: "given", fallback: undefined }
    : openBackend(chooseLibCrypto({ override: o.libcrypto }));
  world.metrics.cryptoLibrary = cryptoLibraryOf(opened.backend, opened.origin);
  return { base: opened.backend, ...(opened.fallback ? { fallback: opened.fallback } : {}) };
}

/** Said once every check has passed and the server listens, so a refused start is one sentence. */
export function sayCrypto(opened: OpenedCrypto, world: ServerWorld): void {
  if (opened.fallback !== undefined) world.log.warn(opened.fallback);
  world.log.info(`signing with ${describeCryptoLibrary(world.metrics.cryptoLibrary)}`);
}

/** What the checks found. */
export interface Checked {
  dbPath: string;
  /** The server's key and id, if it has them. */
  found: Identity | undefined;
  /** PEM texts for Deno.serve (undefined: plain ws://). */
  tls?: { cert: string; key: string };
  /** How outgoing dials use TLS. */
  dial: DialOptions;
}

/** Every check comes before anything is written: a refused start leaves the data dir as it was. */
export async function preflight(
  config: ServerConfig,
  base: RsaBackend,
  checkDb: "quick" | "full" | "none" = "quick",
): Promise<Checked> {
  const dbPath = joinPath(config.data_dir, DATABASE_FILE);
  await checkDataDir(config.data_dir);
  if (checkDb !== "none") await checkDatabase(dbPath, checkDb === "full");
  const found = await readIdentity(config.data_dir, base);
  // TLS files are read before anything listens, so a bad path refuses to start.
  const { serve: tls, dial } = await readTls(config);
  return { dbPath, found, dial, ...(tls ? { tls } : {}) };
}

/** The backend every part uses: signing threads if any, counted for `/metrics`. */
export interface Signing {
  backend: RsaBackend;
  pool?: PooledBackend;
}

/**
 * Signing, the server's real limit, on threads of its own (see crypto/sign_pool.ts): `threads`,
 * or one per core when the backend is OpenSSL; 0 signs through the backend itself.
 */
export async function startSigning(
  base: RsaBackend,
  threads: number | undefined,
  world: ServerWorld,
): Promise<Signing> {
  const n = threads ?? (base.name === "openssl" ? cores() : 0);
  const pool = n > 0
    ? await createSignPool(base, n, (why) => world.log.warn("signing threads unavailable", { why }))
    : undefined;
  return { backend: metered(pool ?? base, world.metrics), ...(pool ? { pool } : {}) };
}

/** Cores this process may use. */
export function cores(): number {
  return navigator.hardwareConcurrency || 1;
}

/** PEM texts for Deno.serve (undefined: plain ws://), and how outgoing dials use TLS. */
async function readTls(
  config: ServerConfig,
): Promise<{ serve?: { cert: string; key: string }; dial: DialOptions }> {
  const { cert_file, key_file, ca_file } = config.tls;
  const read = async (what: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      throw new ConfigError(`Cannot read TLS ${what} "${path}": ${(e as Error).message}`);
    }
  };
  const dial: DialOptions = {
    tlsPeers: new Set(
      [...config.bootstrap_servers, ...config.pinned_servers].filter((s) => s.tls).map((s) =>
        `${s.host}:${s.port}`
      ),
    ),
  };
  if (ca_file !== undefined) dial.ca = await read("CA file", ca_file);
  if (cert_file === undefined || key_file === undefined) return { dial };
  return {
    serve: { cert: await read("certificate", cert_file), key: await read("key", key_file) },
    dial,
  };
}
