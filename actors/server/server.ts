/**
 * Builds a running server from its parts, one step after another: check and prepare, listen,
 * take our identity, join the network, open the store, start the Router and the actors around
 * it (the supervisor owns the link table), then serve. {@linkcode RunningServer.close} undoes
 * it in order (close.ts).
 * @module
 */
import { type Clock, type Random, systemClock, systemRandom } from "../../lib/world.ts";
import type { RsaBackend } from "../../crypto/types.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import { type Identity, saveIdentity } from "../../store/identity.ts";
import type { Store } from "../../store/store.ts";
import { FrameSigner } from "../links/frame_signer.ts";
import type { Link } from "../links/link.ts";
import { Metrics } from "../ops/metrics.ts";
import { observeRoute } from "../ops/status.ts";
import type { Router } from "../router/router.ts";
import type { Joined } from "./bootstrap.ts";
import { BUILD } from "./build.ts";
import { closeServer } from "./close.ts";
import { buildConfig, type ServerConfig } from "./config.ts";
import { joinLater, joinNetwork } from "./join_network.ts";
import { Listener, type Routes } from "./listen.ts";
import { openStore } from "./open_store.ts";
import { OutboundJournal } from "./outbound_journal.ts";
import type { Peers } from "./peers.ts";
import {
  type Checked,
  cores,
  openCrypto,
  preflight,
  sayCrypto,
  type Signing,
  startSigning,
} from "./prepare.ts";
import type { ServerParts, ServerWorld } from "./server_world.ts";
import { CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX } from "../../protocol/limits.ts";
import { type Actors, startActors } from "./start_actors.ts";

/** How to run a server: a configuration plus the world it runs in. */
export interface ServerOptions {
  config: ServerConfig;
  backend?: RsaBackend;
  /** Without `backend`: the libcrypto to load (a path, or "system"; see crypto/libcrypto_cache.ts). */
  libcrypto?: string;
  /**
   * Threads that sign (`crypto/sign_pool.ts`); default one per core when the backend is
   * OpenSSL; 0: sign through the backend itself.
   */
  signThreads?: number;
  clock?: Clock;
  random?: Random;
  log?: Logger;
  checkInvariants?: boolean;
  /**
   * How the database is checked before it is used: `quick` (default, `PRAGMA quick_check`),
   * `full` (`integrity_check`, reads every page) or `none`.
   */
  checkDb?: "quick" | "full" | "none";
}

/** A server that is listening. */
export interface RunningServer {
  server_id: string;
  pubkey: string;
  host: string;
  port: number;
  router: Router;
  store: Store;
  peers: Peers;
  links: Map<string, Link>;
  /** Closes every link and the listener, then the database. */
  close(): Promise<void>;
}

/** A configuration for a single server with defaults (tests, quick starts). */
export function simpleConfig(data_dir: string, port = 0, host = "127.0.0.1"): ServerConfig {
  return buildConfig(undefined, { data_dir, port, host }).config;
}

/** Starts a server and resolves once it listens and has tried to join its network. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const world = worldOf(options);
  const opened = openCrypto(options, world);
  const checked = await preflight(config, opened.base, options.checkDb);
  const signing = await startSigning(opened.base, options.signThreads, world);
  // Listen first: the port must be known before we tell an introducer where we are.
  const listener = await Listener.open({
    config,
    tls: checked.tls,
    clock: world.clock,
    log: world.log,
  });
  sayCrypto(opened, world);
  const identity = await takeIdentity({ config, checked, signing, listener, world });
  const outbound = new OutboundJournal();
  const parts = serverParts({ config, identity, world, signing, checked, listener, outbound });
  const joined = await joinNetwork(parts);
  const store = openStore(checked.dbPath, parts);
  const checkInvariants = options.checkInvariants ?? false;
  const actors = await startActors({ ...parts, store, checkInvariants });
  outbound.open(store);
  const rejoin = linkNetwork(actors, joined, parts);
  listener.serve(routes(actors, world));
  sayListening(parts, listener.port, checked.tls !== undefined);
  const holdings = { server_id: identity.server_id, actors, listener, store, world, rejoin };
  return {
    server_id: identity.server_id,
    pubkey: identity.key.publicKey.spki,
    host: config.host,
    port: listener.port,
    router: actors.router,
    store,
    peers: actors.peers,
    links: actors.supervisor.links,
    close: () => closeServer({ ...holdings, pool: signing.pool }),
  };
}

/** The clock, randomness and log given, or the real ones; fresh counters for `/metrics`. */
function worldOf(options: ServerOptions): ServerWorld {
  const clock = options.clock ?? systemClock;
  return {
    clock,
    random: options.random ?? systemRandom,
    log: options.log ?? createLogger("info"),
    metrics: new Metrics(clock),
  };
}

/** Our key and id: the ones found, or new ones saved; a failure stops what was started. */
async function takeIdentity(
  { config, checked, signing, listener, world }: {
    config: ServerConfig;
    checked: Checked;
    signing: Signing;
    listener: Listener;
    world: ServerWorld;
  },
): Promise<Identity> {
  try {
    return await saveIdentity(
      config.data_dir,
      checked.found,
      signing.backend,
      world.random,
      (m) => world.log.info(m),
    );
  } catch (e) {
    await listener.stop();
    signing.pool?.close();
    throw e;
  }
}

/** What joining and the actors share, once we have an identity and a port. */
function serverParts(o: {
  config: ServerConfig;
  identity: Identity;
  world: ServerWorld;
  signing: Signing;
  checked: Checked;
  listener: Listener;
  outbound: OutboundJournal;
}): ServerParts {
  const { config, identity, signing: { backend } } = o;
  return {
    config,
    identity,
    world: o.world,
    signer: new FrameSigner(backend, identity.key),
    // Else two per core, so each core has its next seal waiting when it ends one.
    sealsAtOnce: o.signing.pool?.jobsMax ??
      Math.max(1, Math.min(CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX, 2 * cores())),
    backend,
    advertise: { host: config.advertise_host, port: config.advertise_port ?? o.listener.port },
    dial: o.checked.dial,
    note: o.outbound.note,
  };
}

/**
 * Links to the network: the introducer that welcomed us, every server whose key we pinned, and
 * (when no introducer answered) join retries, returned so they can be stopped.
 */
function linkNetwork(
  actors: Actors,
  joined: Joined | undefined,
  parts: ServerParts,
): { stop(): void } | undefined {
  const { router, supervisor, peers } = actors;
  if (joined) supervisor.welcomed(joined);
  for (const server_id of router.state.server_keys.keys()) peers.dial(server_id);
  return joinLater(parts, joined, (j) => supervisor.welcomed(j));
}

/** What the listener serves once the server is up. */
function routes(actors: Actors, world: ServerWorld): Routes {
  const { router, supervisor, peers } = actors;
  return {
    router,
    accept: (socket) => supervisor.accept(socket),
    observe: (request) =>
      observeRoute(request, {
        router,
        links: supervisor.links,
        peers,
        metrics: world.metrics,
        build: BUILD,
        now: () => world.clock.now(),
      }),
  };
}

/** Says where we listen. */
function sayListening(parts: ServerParts, port: number, tls: boolean): void {
  const { config, advertise } = parts;
  // A wildcard address is not one a browser can open: show where peers reach us instead.
  const shown = config.host === "0.0.0.0" || config.host === "::" ? advertise.host : config.host;
  const hostPart = shown.includes(":") ? `[${shown}]` : shown;
  parts.world.log.info("listening", {
    browser: `${tls ? "https" : "http"}://${hostPart}:${port}/`,
    url: `${tls ? "wss" : "ws"}://${config.host}:${port}`,
    server_id: parts.identity.server_id,
    advertise: `${advertise.host}:${advertise.port}`,
  });
}
