/**
 * Builds a running server from its parts: identity, store, Router, and the WebSocket listener
 * (Deno.serve) that turns each connection into a link actor. This is the supervisor: a link's
 * death becomes a `LinkClosed` input for the Router.
 * @module
 */
import { join } from "node:path";
import { defaultBackend } from "../crypto/mod.ts";
import type { RsaBackend } from "../crypto/types.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../lib/world.ts";
import { HELLO_TIMEOUT_MS, LINK_OUTBOX_MAX } from "../protocol/limits.ts";
import { loadOrCreateIdentity } from "../store/identity.ts";
import { Store } from "../store/store.ts";
import { FrameSigner } from "./frame_signer.ts";
import { type LinkHandle, Router } from "./router.ts";
import { UserLink } from "./user_link.ts";
import { BUILD } from "./build.ts";

/** How to run a server. */
export interface ServerOptions {
  host?: string;
  port?: number;
  dataDir: string;
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
  /** Closes every link and the listener, then the database. */
  close(): Promise<void>;
}

/** Database file inside a data dir. */
export const DATABASE_FILE = "socp.sqlite";

/** Starts a server and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const backend = options.backend ?? defaultBackend();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const log = options.log ?? createLogger("info");
  const identity = await loadOrCreateIdentity(options.dataDir, backend, random, (m) => log.info(m));
  const store = Store.open(join(options.dataDir, DATABASE_FILE));
  store.setMeta("build", BUILD);
  store.setMeta("config", JSON.stringify({ host, port: options.port ?? 8765 }));

  const links = new Map<string, LinkHandle & { closed(): void }>();
  const signer = new FrameSigner(backend, identity.key);
  const router = new Router(identity.server_id, {
    store,
    links,
    log,
    checkInvariants: options.checkInvariants ?? false,
  });
  router.start({
    type: "ServerStarted",
    server_id: identity.server_id,
    server_pub: identity.key.publicKey.spki,
    at_ms: clock.now(),
    build: BUILD,
  });

  let nextLink = 1;
  const abort = new AbortController();
  const listening = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: host,
    port: options.port ?? 8765,
    signal: abort.signal,
    onListen: ({ port }) => listening.resolve(port),
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return httpRoute(request, router);
    }
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 60 });
    const id = `user:${nextLink++}`;
    const link = new UserLink(id, socket, {
      server_id: () => router.state.server_id,
      backend,
      signer,
      store,
      clock,
      post: (input) => router.post(input),
      outboxMax: LINK_OUTBOX_MAX,
    });
    links.set(id, link);
    const helloTimer = clock.setTimeout(() => {
      if (link.userId === undefined) link.close(1008, "no USER_HELLO in time");
    }, HELLO_TIMEOUT_MS);
    socket.onmessage = (e) =>
      link.receive(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data));
    // Deno may fire close twice (PLATFORM.md §4), so cleanup is idempotent.
    socket.onclose = (e) => {
      if (!links.delete(id)) return;
      clock.clearTimeout(helloTimer);
      link.closed();
      router.post({
        type: "LinkClosed",
        link: id,
        reason: `socket closed (${e.code})`,
        at_ms: clock.now(),
      });
    };
    return response;
  });
  const port = await listening.promise;
  log.info("listening", { url: `ws://${host}:${port}`, server_id: identity.server_id });

  return {
    server_id: identity.server_id,
    pubkey: identity.key.publicKey.spki,
    host,
    port,
    router,
    store,
    async close() {
      for (const link of links.values()) link.close(1001, "server shutting down");
      await new Promise((r) => setTimeout(r, 20));
      abort.abort();
      await server.finished;
      await router.mailbox.idle();
      store.close();
    },
  };
}

function httpRoute(request: Request, router: Router): Response {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/health") {
    return Response.json({
      status: "ok",
      server_id: router.state.server_id,
      users_online: router.state.local_users.size,
    });
  }
  return new Response("SOCP v1.3 server: connect with a WebSocket.\n", { status: 404 });
}
