/**
 * Builds a running server from its parts and supervises its links: identity, store, Router,
 * the WebSocket listener (Deno.serve) whose connections become link actors, the join through
 * an introducer, and the peer manager that keeps server links up. A link's death becomes a
 * `LinkClosed` input for the Router (ejabberd's monitor 'DOWN').
 * @module
 */
import { join as joinPath } from "node:path";
import { defaultBackend } from "../crypto/mod.ts";
import type { PublicKey, RsaBackend } from "../crypto/types.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../lib/world.ts";
import {
  CONGESTION_WAIT_MS_MAX,
  HELLO_TIMEOUT_MS,
  LINK_OUTBOX_MAX,
  OUTBOX_HIGH_WATER,
  PUBLIC_CHANNEL_REKEY_DELAY_MS,
} from "../protocol/limits.ts";
import { PublicChannelKeys } from "./public_channel.ts";
import { type Identity, loadOrCreateIdentity, saveServerId } from "../store/identity.ts";
import { Store } from "../store/store.ts";
import { join, type Joined } from "./bootstrap.ts";
import { BUILD } from "./build.ts";
import { buildConfig, type ServerConfig } from "./config.ts";
import type { WebSocket } from "./dial.ts";
import { FrameSigner } from "./frame_signer.ts";
import { Link, type LinkContext } from "./link.ts";
import { Peers } from "./peers.ts";
import { Router } from "./router.ts";
import type { RouterConfig } from "./router_decide.ts";
import { FirstFrameHandler, ServerLinkHandler } from "./server_link.ts";
import { UserLinkHandler } from "./user_link.ts";
import { webRoute } from "../web/serve.ts"; // Browser client (issue 8).
import type { FrameSocket } from "./outbox.ts";

/** How to run a server: a configuration plus the world it runs in. */
export interface ServerOptions {
  config: ServerConfig;
  backend?: RsaBackend;
  clock?: Clock;
  random?: Random;
  log?: Logger;
  checkInvariants?: boolean;
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

/** Database file inside a data dir. */
export const DATABASE_FILE = "socp.sqlite";

/** A configuration for a single server with defaults (tests, quick starts). */
export function simpleConfig(data_dir: string, port = 0, host = "127.0.0.1"): ServerConfig {
  return buildConfig(undefined, { data_dir, port, host }).config;
}

/** Starts a server and resolves once it listens and has tried to join its network. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config } = options;
  const backend = options.backend ?? defaultBackend();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const log = options.log ?? createLogger("info");
  const identity = await loadOrCreateIdentity(config.data_dir, backend, random, (m) => log.info(m));
  const signer = new FrameSigner(backend, identity.key);

  // Listen first: the port must be known before we tell an introducer where we are.
  const abort = new AbortController();
  const listening = Promise.withResolvers<number>();
  // Filled in once the parts exist; the listener and the Router refer to each other.
  const late: {
    accept?: (socket: globalThis.WebSocket) => void;
    router?: Router;
    peers?: Peers;
    keys?: PublicChannelKeys;
  } = {};
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    signal: abort.signal,
    onListen: ({ port }) => listening.resolve(port),
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // --- Browser client (issue 8): GET /, /app.js, /app.css; see web/serve.ts ---
      const web = webRoute(request, (message) => log.error(message));
      if (web) return web;
      // --- end browser client ---
      return httpRoute(request, late.router);
    }
    const accept = late.accept;
    if (!accept) return new Response("starting up, try again shortly\n", { status: 503 });
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
    accept(socket);
    return response;
  });
  const port = await listening.promise;
  const advertise = { host: config.advertise_host, port: config.advertise_port ?? port };

  const joined = config.bootstrap_servers.length > 0
    ? await join(config.bootstrap_servers, {
      server_id: identity.server_id,
      pubkey: identity.key.publicKey.spki,
      advertise,
      signer,
      backend,
      clock,
      log,
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

  const store = Store.open(joinPath(config.data_dir, DATABASE_FILE));
  store.setMeta("build", BUILD);
  store.setMeta("config", JSON.stringify({ ...config, advertise }));
  const links = new Map<string, Link>();
  const routerConfig: RouterConfig = {
    join_policy: config.join_policy,
    pinned_keys: new Set(
      [...config.bootstrap_servers, ...config.pinned_servers].map((s) => s.pubkey),
    ),
    advertise,
  };
  const router = new Router(identity.server_id, {
    store,
    links,
    log,
    config: routerConfig,
    dial: (id) => late.peers?.dial(id),
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
  const ctx: LinkContext = {
    backend,
    signer,
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
          l.handler instanceof ServerLinkHandler && l.outboxDepth > OUTBOX_HIGH_WATER
        );
      while (backedUp() && clock.now() < deadline) {
        await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), 5));
      }
    },
    heartbeatIntervalMs: config.heartbeat_interval_ms,
    linkTimeoutMs: config.link_timeout_ms,
    serverKeys: new Map<string, Promise<PublicKey | undefined>>(),
    advertise,
  };
  let nextLink = 1;
  const supervise = (socket: FrameSocket, kind: "in" | "out"): Link => {
    const id = `${kind === "in" ? "conn" : "peer"}:${nextLink++}`;
    const link = new Link(id, socket, ctx);
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
    const link = supervise(s, "in");
    link.handler = new FirstFrameHandler(link);
    const timer = clock.setTimeout(() => {
      if (
        link.handler instanceof FirstFrameHandler ||
        (link.handler instanceof UserLinkHandler && link.handler.userId === undefined)
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
    const link = supervise(socket, "out");
    const handler = new ServerLinkHandler(link, server_id);
    link.handler = handler;
    socket.on("message", (data) => link.receive(data.toString()));
    socket.on(
      "close",
      (code, reason) => down(link, `socket closed (${code}${reason.length ? ` ${reason}` : ""})`),
    );
    socket.on("error", () => {});
    for (const text of backlog) link.receive(text);
    return link;
  };
  const peers = new Peers({
    clock,
    random,
    log,
    state: () => r.state,
    backoffBaseMs: config.reconnect_backoff_base_ms,
    backoffMaxMs: config.reconnect_backoff_max_ms,
    adopt: (socket, server_id) => {
      const link = adoptOutbound(socket, server_id);
      (link.handler as ServerLinkHandler).helloFrame();
      r.post({ type: "ServerDialed", link: link.id, server_id, at_ms: clock.now() });
    },
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
  for (const server_id of r.state.server_keys.keys()) peers.dial(server_id);
  const rejoin = config.bootstrap_servers.length > 0 && !joined
    ? retryJoin(config, identity, { signer, backend, clock, log, advertise, random }, (j) => {
      if (j.assigned_id !== identity.server_id) {
        log.error("introducer assigned a different id to a running server; restart to adopt it", {
          assigned: j.assigned_id,
        });
        j.socket.close(1000, "restart needed");
      } else welcomed(j);
    })
    : undefined;

  log.info("listening", {
    url: `ws://${config.host}:${port}`,
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
      for (const link of links.values()) link.close(1001, "server shutting down");
      await new Promise((resolve) => setTimeout(resolve, 20));
      abort.abort();
      await server.finished;
      await r.mailbox.idle();
      store.close();
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
