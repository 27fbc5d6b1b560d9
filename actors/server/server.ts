/**
 * Builds a running server from its parts and supervises its links: identity, store, Router,
 * the WebSocket listener (Deno.serve) whose connections become link actors, the join through
 * an introducer, and the peer manager that keeps server links up. A link's death becomes a
 * `LinkClosed` input for the Router (ejabberd's monitor 'DOWN').
 * @module
 */
import { KeyCache } from "../links/key_cache.ts";
import { USER_KEYS_CACHED_MAX } from "../../protocol/limits.ts";
import { join as joinPath } from "node:path";
import { chooseLibCrypto, openBackend } from "../../crypto/mod.ts";
import { createSignPool } from "../../crypto/sign_pool.ts";
import type { PublicKey, RsaBackend } from "../../crypto/types.ts";
import { createLogger, type Logger } from "../../lib/log.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../../lib/world.ts";
import {
  CONGESTION_WAIT_MS_MAX,
  HELLO_TIMEOUT_MS,
  LINK_CLOSE_LINGER_MS,
  LINK_OUTBOX_MAX,
  OUTBOX_HIGH_WATER,
  PUBLIC_CHANNEL_REKEY_DELAY_MS,
  SOCKET_IDLE_TIMEOUT_S,
} from "../../protocol/limits.ts";
import { PublicChannelKeys } from "./public_channel.ts";
import { type Identity, readIdentity, saveIdentity, saveServerId } from "../../store/identity.ts";
import { checkDatabase, checkDataDir } from "../../store/preflight.ts";
import { StartupError } from "../../lib/startup_error.ts";
import { DATABASE_FILE, Store } from "../../store/store.ts";
import { join, type Joined } from "./bootstrap.ts";
import { type OutboundNote, outboundRow } from "./outbound_journal.ts";
import { BUILD } from "./build.ts";
import { buildConfig, type ServerConfig } from "./config.ts";
import type { DialOptions, WebSocket } from "./dial.ts";
import { FrameSigner } from "../links/frame_signer.ts";
import { logEvent } from "./event_lines.ts";
import { Link, type LinkContext } from "../links/link.ts";
import { Peers, socketConnector } from "./peers.ts";
import { Router } from "../router/router.ts";
import type { RouterConfig } from "../router/router_config.ts";
import { FirstFrameHandler, ServerLinkHandler } from "../links/server_link.ts";
import type { FrameSocket } from "../links/outbox.ts";
import { webRoute } from "./web_serve.ts";
import { ConfigError } from "./config.ts";
import { CONNECTION_LIMIT_DETAIL } from "../../lib/token_bucket.ts";
import { FairSigner } from "../links/fair_signer.ts";
import { CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX, ORIGIN_SEALS_MAX } from "../../protocol/limits.ts";
import { cryptoLibraryOf, metered, Metrics } from "../ops/metrics.ts";
import { describeCryptoLibrary, observeRoute } from "../ops/status.ts";

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
  // Observability: every RSA operation is counted and timed for /metrics.
  const metrics = new Metrics();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const log = options.log ?? createLogger("info");
  const opened = options.backend
    ? { backend: options.backend, origin: "given" }
    : openBackend(chooseLibCrypto({ override: options.libcrypto }));
  const base = opened.backend;
  metrics.cryptoLibrary = cryptoLibraryOf(base, opened.origin);
  // Every check comes before anything is written: a refused start leaves the data dir as it was.
  const dbPath = joinPath(config.data_dir, DATABASE_FILE);
  await checkDataDir(config.data_dir);
  if (options.checkDb !== "none") await checkDatabase(dbPath, options.checkDb === "full");
  const found = await readIdentity(config.data_dir, base);
  // TLS files are read before anything listens, so a bad path refuses to start.
  const { serve: tls, dial } = await readTls(config);
  // Signing, the server's real limit, on threads of its own (see crypto/sign_pool.ts).
  const threads = options.signThreads ?? (base.name === "openssl" ? cores() : 0);
  const pool = threads > 0
    ? await createSignPool(base, threads, (why) => log.warn("signing threads unavailable", { why }))
    : undefined;
  const backend = metered(pool ?? base, metrics);

  // Listen first: the port must be known before we tell an introducer where we are.
  const abort = new AbortController();
  const listening = Promise.withResolvers<number>();
  // Filled in once the parts exist; the listener and the Router refer to each other.
  const late: {
    accept?: (socket: globalThis.WebSocket) => void;
    router?: Router;
    peers?: Peers;
    keys?: PublicChannelKeys;
    observe?: (request: Request) => Response | undefined; // observability
  } = {};
  // Open WebSockets per remote address.
  const perIp = new Map<string, number>();
  const server = listen({
    hostname: config.host,
    port: config.port,
    signal: abort.signal,
    onListen: ({ port }) => listening.resolve(port),
    ...(tls ? { cert: tls.cert, key: tls.key } : {}),
  }, (request, info) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // Browser client: GET /, /app.js, /app.css; see actors/server/web_serve.ts
      const web = webRoute(request, (message) => log.error(message));
      if (web) return web;
      const observed = late.observe?.(request); // observability: /metrics, /status
      if (observed) return observed;
      return httpRoute(request, late.router);
    }
    const accept = late.accept;
    if (!accept) return new Response("starting up, try again shortly\n", { status: 503 });
    // One address may not hold more than its share of connections.
    const ip = info.remoteAddr.hostname;
    const open = perIp.get(ip) ?? 0;
    const max = config.limits.connections_per_ip;
    if (open >= max) {
      const detail =
        `${CONNECTION_LIMIT_DETAIL}${open} connections from ${ip} are open (limit ${max})`;
      late.router?.post({
        type: "Refused",
        link: `ip:${ip}`,
        raw: "",
        reason: `TIMEOUT: ${detail}`,
        at_ms: clock.now(),
      });
      return new Response(`TIMEOUT: ${detail}; close one and try again\n`, {
        status: 429,
        headers: { "retry-after": "5" },
      });
    }
    perIp.set(ip, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    };
    // Deno answers a peer's pings itself and shows us no ping or pong, so it also judges
    // liveness on these sockets (FrameSocket.livenessByRuntime).
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: SOCKET_IDLE_TIMEOUT_S,
    });
    socket.addEventListener("close", release);
    accept(socket);
    return response;
  });
  const port = await listening.promise;
  // Said once every check has passed, so a refused start is one sentence.
  if (opened.fallback !== undefined) log.warn(opened.fallback);
  log.info(`signing with ${describeCryptoLibrary(metrics.cryptoLibrary)}`);
  let identity: Identity;
  try {
    identity = await saveIdentity(config.data_dir, found, backend, random, (m) => log.info(m));
  } catch (e) {
    abort.abort();
    await server.finished;
    pool?.close();
    throw e;
  }
  const signer = new FrameSigner(backend, identity.key);
  const advertise = { host: config.advertise_host, port: config.advertise_port ?? port };

  // Our attempts are journaled with their verdicts; the store opens after the join (the join
  // may change our id), so the first ones wait here.
  const outbound: OutboundNote[] = [];
  const late_note: { journal?: (note: OutboundNote) => void } = {};
  const note = (n: OutboundNote) => late_note.journal ? late_note.journal(n) : outbound.push(n);
  const joined = config.bootstrap_servers.length > 0
    ? await join(config.bootstrap_servers, {
      server_id: identity.server_id,
      pubkey: identity.key.publicKey.spki,
      advertise,
      signer,
      backend,
      clock,
      log,
      dial,
      note,
    })
    : undefined;
  if (joined && joined.assigned_id !== identity.server_id) {
    log.warn("introducer assigned a new server id", {
      requested: identity.server_id,
      assigned: joined.assigned_id,
    });
    identity.server_id = joined.assigned_id;
    await saveServerId(config.data_dir, identity);
  }
  if (config.bootstrap_servers.length > 0 && !joined) {
    log.warn("no introducer reachable: running on our own until one is");
  }

  const store = Store.open(dbPath);
  // Observability: every journaled input counts (inputs by verdict, drops by reason)
  const journal = store.journal.bind(store);
  store.journal = (row) => {
    metrics.journaled(row);
    journal(row);
  };
  const append = store.append.bind(store);
  store.append = (events) => {
    for (const event of events) logEvent(log, event);
    return append(events);
  };
  store.setMeta("build", BUILD);
  store.setMeta("config", JSON.stringify({ ...config, advertise }));
  const links = new Map<string, Link>();
  const routerConfig: RouterConfig = {
    join_policy: config.join_policy,
    pinned_keys: new Set(
      [...config.bootstrap_servers, ...config.pinned_servers].map((s) => s.pubkey),
    ),
    advertise,
    users_max: config.limits.users_max,
  };
  const router = new Router(identity.server_id, {
    store,
    links,
    log,
    config: routerConfig,
    dial: (id) => late.peers?.dial(id),
    linked: (id) => late.peers?.linked(id),
    rekey: () => late.keys?.request(),
    checkInvariants: options.checkInvariants ?? false,
  });
  const r = router;
  late.router = router;
  r.start({
    type: "ServerStarted",
    server_id: identity.server_id,
    server_pub: identity.key.publicKey.spki,
    at_ms: clock.now(),
    build: BUILD,
  });

  late_note.journal = (n) => store.journal(outboundRow(n, store.lastSeq));
  for (const n of outbound.splice(0)) late_note.journal(n);

  late.keys = new PublicChannelKeys({
    backend,
    key: identity.key,
    clock,
    random,
    log,
    state: () => r.state,
    post: (i) => r.post(i),
    delayMs: PUBLIC_CHANNEL_REKEY_DELAY_MS,
  });
  // Seals take turns across origins (fair shares of the signing CPU).
  // Two seals per core at once, so each signing thread has its next one waiting when it ends
  // one (one per core left 0.3 of 2 cores idle: BENCHMARKS.md, target a).
  const fair = new FairSigner(
    signer,
    Math.max(1, Math.min(CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX, 2 * cores())),
  );
  const ctx: LinkContext = {
    backend,
    signer: { seal: (frame, onStart) => fair.sign(frame, onStart) },
    fairTurn: (user) => fair.whenBelow(user, ORIGIN_SEALS_MAX),
    store,
    clock,
    random,
    log,
    state: () => r.state,
    post: (input) => r.post(input),
    outboxMax: LINK_OUTBOX_MAX,
    uncongested: async () => {
      const deadline = clock.now() + CONGESTION_WAIT_MS_MAX;
      const backedUp = () =>
        [...links.values()].some((l) =>
          l.handler?.role === "server" && l.outboxDepth > OUTBOX_HIGH_WATER
        );
      while (backedUp() && clock.now() < deadline) {
        await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), 5));
      }
    },
    heartbeatIntervalMs: config.heartbeat_interval_ms,
    linkTimeoutMs: config.link_timeout_ms,
    serverKeys: new Map<string, Promise<PublicKey | undefined>>(),
    userKeys: new KeyCache(backend, USER_KEYS_CACHED_MAX),
    advertise,
    limits: config.limits,
  };
  let nextLink = 1;
  const supervise = (socket: FrameSocket, kind: "in" | "out"): Link => {
    const id = `${kind === "in" ? "conn" : "peer"}:${nextLink++}`;
    // Observability: frames in and out by type
    const link = new Link(id, metrics.countSent(socket), ctx);
    const receive = link.receive.bind(link);
    link.receive = (raw) => {
      metrics.frameReceived(raw);
      receive(raw);
    };
    link.onDown = (reason) => down(link, reason);
    links.set(id, link);
    return link;
  };
  function down(link: Link, reason: string) {
    if (!links.delete(link.id)) return;
    link.closed();
    r.post({ type: "LinkClosed", link: link.id, reason, at_ms: clock.now() });
  }

  // Inbound connections: the first frame decides the role; no hello in time closes it.
  late.accept = (s) => {
    const link = supervise(Object.assign(s, { livenessByRuntime: true }), "in");
    link.handler = new FirstFrameHandler(link);
    const timer = clock.setTimeout(() => {
      if (
        link.handler?.role === "pending" ||
        (link.handler?.role === "user" && link.handler.userId === undefined)
      ) {
        link.close(1008, "no hello in time");
      }
    }, HELLO_TIMEOUT_MS);
    s.onmessage = (e) =>
      link.receive(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data));
    // Deno may fire close twice (PLATFORM.md §4), so cleanup is idempotent.
    s.onclose = (e) => {
      clock.clearTimeout(timer);
      down(link, `socket closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
    };
  };

  // Outbound server links: npm:ws sockets we opened (dialled, or the join).
  const adoptOutbound = (socket: WebSocket, server_id: string, backlog: string[] = []): Link => {
    const link = supervise(outboundSocket(socket), "out");
    const handler = new ServerLinkHandler(link, server_id);
    link.handler = handler;
    socket.on("message", (data) => link.receive(data.toString()));
    // npm:ws shows pings and pongs: any traffic keeps the link alive (a peer may ping only).
    socket.on("ping", () => link.alive());
    socket.on("pong", () => link.alive());
    socket.on(
      "close",
      (code, reason) => down(link, `socket closed (${code}${reason.length ? ` ${reason}` : ""})`),
    );
    socket.on("error", () => {});
    for (const text of backlog) link.receive(text);
    return link;
  };
  const peers = new Peers({
    note,
    clock,
    random,
    log,
    state: () => r.state,
    backoffBaseMs: config.reconnect_backoff_base_ms,
    backoffMaxMs: config.reconnect_backoff_max_ms,
    connect: socketConnector((socket, server_id) => {
      const link = adoptOutbound(socket, server_id);
      (link.handler as ServerLinkHandler).helloFrame();
      r.post({ type: "ServerDialed", link: link.id, server_id, at_ms: clock.now() });
    }, dial),
  });
  const welcomed = (j: Joined) => {
    const link = adoptOutbound(j.socket, j.introducer.server_id);
    // The Router links the introducer before the frames that followed the welcome arrive.
    r.post({
      type: "Welcomed",
      link: link.id,
      introducer: j.introducer,
      servers: j.servers,
      raw: j.welcomeRaw,
      at_ms: clock.now(),
    });
    for (const text of j.backlog) link.receive(text);
  };
  if (joined) welcomed(joined);
  late.peers = peers;
  late.observe = (request) =>
    // observability
    observeRoute(request, {
      router: r,
      links,
      peers,
      metrics,
      build: BUILD,
      now: () => clock.now(),
    });
  for (const server_id of r.state.server_keys.keys()) peers.dial(server_id);
  const rejoin = config.bootstrap_servers.length > 0 && !joined
    ? retryJoin(config, identity, {
      signer,
      backend,
      clock,
      log,
      advertise,
      random,
      dial,
      note,
    }, (j) => {
      if (j.assigned_id !== identity.server_id) {
        log.error("introducer assigned a different id to a running server; restart to adopt it", {
          assigned: j.assigned_id,
        });
        j.socket.close(1000, "restart needed");
      } else welcomed(j);
    })
    : undefined;

  // A wildcard address is not one a browser can open: show where peers reach us instead.
  const shown = config.host === "0.0.0.0" || config.host === "::" ? advertise.host : config.host;
  const hostPart = shown.includes(":") ? `[${shown}]` : shown;
  log.info("listening", {
    browser: `${tls ? "https" : "http"}://${hostPart}:${port}/`,
    url: `${tls ? "wss" : "ws"}://${config.host}:${port}`,
    server_id: identity.server_id,
    advertise: `${advertise.host}:${advertise.port}`,
  });
  return {
    server_id: identity.server_id,
    pubkey: identity.key.publicKey.spki,
    host: config.host,
    port,
    router: r,
    store,
    peers,
    links,
    async close() {
      rejoin?.stop();
      late.keys?.stop();
      peers.stop();
      // Each link's last frames and close frame go out before the listener stops; frames still
      // waiting for a signature are not worth a slow shutdown, so this is bounded too.
      let bound: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(
          [...links.values()].map((link) => (link.close(1001, "server shutting down"), link.gone)),
        ),
        new Promise((resolve) => bound = setTimeout(resolve, LINK_CLOSE_LINGER_MS)),
      ]);
      clearTimeout(bound);
      // A link still closing after that is stopped here and reports to nobody: the Router and
      // the store are going.
      for (const link of [...links.values()]) {
        links.delete(link.id);
        link.onDown = () => {};
        link.closed();
      }
      // The close frames themselves are written asynchronously: give them a moment.
      await new Promise((resolve) => setTimeout(resolve, 20));
      abort.abort();
      await server.finished;
      await r.mailbox.idle();
      store.close();
      pool?.close();
      log.info("shut down", { server_id: identity.server_id });
    },
  };
}

/** Keeps trying to join when no introducer answered at start. */
function retryJoin(
  config: ServerConfig,
  identity: Identity,
  w: {
    signer: FrameSigner;
    backend: RsaBackend;
    clock: Clock;
    log: Logger;
    advertise: { host: string; port: number };
    random: Random;
    dial: DialOptions;
    note: (note: OutboundNote) => void;
  },
  done: (j: Joined) => void,
): { stop(): void } {
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  const attempt = async () => {
    if (stopped) return;
    const j = await join(config.bootstrap_servers, {
      server_id: identity.server_id,
      pubkey: identity.key.publicKey.spki,
      ...w,
    });
    if (stopped) return j?.socket.close(1000, "shutting down");
    if (j) return done(j);
    failures++;
    const delay = Math.min(
      config.reconnect_backoff_max_ms,
      config.reconnect_backoff_base_ms * 2 ** Math.min(failures, 30),
    );
    timer = w.clock.setTimeout(
      () => void attempt(),
      Math.round(delay * (0.5 + w.random.float() / 2)),
    );
  };
  timer = w.clock.setTimeout(() => void attempt(), config.reconnect_backoff_base_ms);
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) w.clock.clearTimeout(timer);
    },
  };
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

function httpRoute(request: Request, router: Router | undefined): Response {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/health") {
    if (!router) return Response.json({ status: "starting" }, { status: 503 });
    const s = router.state;
    return Response.json({
      status: "ok",
      server_id: s.server_id,
      users_online: s.local_users.size,
      servers_linked: s.servers.size,
    });
  }
  return new Response("SOCP v1.3 server: connect with a WebSocket.\n", { status: 404 });
}

/** Deno.serve, with the listening errors an operator can fix said in one sentence. */
function listen(
  options: Deno.ServeTcpOptions & (Deno.TlsCertifiedKeyPem | Record<never, never>),
  handler: Deno.ServeHandler<Deno.NetAddr>,
): Deno.HttpServer<Deno.NetAddr> {
  const where = `${options.hostname}:${options.port}`;
  try {
    return Deno.serve(options, handler);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      throw new StartupError(
        `Port ${options.port} on ${options.hostname} is already in use (another server or ` +
          `program listens there): stop it, or pass another --port (0 picks a free one).`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new StartupError(
        `Not allowed to listen on ${where} (ports below 1024 need privileges): pass a --port ` +
          `of 1024 or more.`,
      );
    }
    if (e instanceof Deno.errors.AddrNotAvailable || e instanceof TypeError) {
      throw new StartupError(
        `Cannot listen on ${where} (${(e as Error).message}): pass a --host this machine ` +
          `has, such as 127.0.0.1 or 0.0.0.0.`,
      );
    }
    throw e;
  }
}

/** An npm:ws socket as a link's socket: it can ping, and we see its peer's pings and pongs. */
function outboundSocket(socket: WebSocket): FrameSocket {
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    ping: () => {
      try {
        socket.ping();
      } catch {
        // Not open (yet, or any more): its close is reported on its own.
      }
    },
  };
}

/** Cores this process may use. */
function cores(): number {
  return navigator.hardwareConcurrency || 1;
}
