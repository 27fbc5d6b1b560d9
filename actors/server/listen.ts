/**
 * The listener: one Deno.serve for WebSockets (each becomes a link, through the supervisor), the
 * browser client's files, `/health`, `/metrics` and `/status`. It listens before the rest of the
 * server exists, because an introducer must be told our port; until {@linkcode Listener.serve}
 * it answers that it is starting. One address may hold only its share of connections.
 * @module
 */
import type { Logger } from "../../lib/log.ts";
import { StartupError } from "../../lib/startup_error.ts";
import { CONNECTION_LIMIT_DETAIL } from "../../lib/token_bucket.ts";
import type { Clock } from "../../lib/world.ts";
import { SOCKET_IDLE_TIMEOUT_S } from "../../protocol/limits.ts";
import type { Router } from "../router/router.ts";
import type { ServerConfig } from "./config.ts";
import { webRoute } from "./web_serve.ts";

/** Where requests go once the server is up. */
export interface Routes {
  router: Router;
  /** Takes an upgraded WebSocket (the supervisor). */
  accept: (socket: globalThis.WebSocket) => void;
  /** `/metrics` and `/status`; undefined for any other request. */
  observe: (request: Request) => Response | undefined;
}

/** What the listener is given. */
export interface ListenOptions {
  config: ServerConfig;
  /** PEM texts to serve wss:// and https:// (undefined: plain). */
  tls?: { cert: string; key: string };
  clock: Clock;
  log: Logger;
}

/** A listening socket and the routes behind it. */
export class Listener {
  #routes: Routes | undefined;
  /** Open WebSockets per remote address. */
  readonly #perIp = new Map<string, number>();
  readonly #abort = new AbortController();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port = 0;

  private constructor(private readonly o: ListenOptions) {}

  /** Listens on the configured address; resolves once the port is known. */
  static async open(o: ListenOptions): Promise<Listener> {
    const { config, tls } = o;
    const listener = new Listener(o);
    const listening = Promise.withResolvers<number>();
    listener.#server = serve({
      hostname: config.host,
      port: config.port,
      signal: listener.#abort.signal,
      onListen: ({ port }) => listening.resolve(port),
      ...(tls ? { cert: tls.cert, key: tls.key } : {}),
    }, (request, info) => listener.#handle(request, info));
    listener.#port = await listening.promise;
    return listener;
  }

  /** The port it listens on (the one the OS picked, for port 0). */
  get port(): number {
    return this.#port;
  }

  /** From now on, requests reach the server's parts. */
  serve(routes: Routes): void {
    this.#routes = routes;
  }

  /** Stops listening and drops every connection still open. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#server?.finished;
  }

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    const routes = this.#routes;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      // Browser client: GET /, /app.js, /app.css; see actors/server/web_serve.ts
      const web = webRoute(request, (message) => this.o.log.error(message));
      if (web) return web;
      const observed = routes?.observe(request);
      if (observed) return observed;
      return httpRoute(request, routes?.router);
    }
    if (!routes) return new Response("starting up, try again shortly\n", { status: 503 });
    const ip = info.remoteAddr.hostname;
    const open = this.#perIp.get(ip) ?? 0;
    const max = this.o.config.limits.connections_per_ip;
    if (open >= max) return this.#tooMany(routes.router, ip, open, max);
    this.#perIp.set(ip, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const n = (this.#perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, n);
    };
    // Deno answers a peer's pings itself and shows us no ping or pong, so it also judges
    // liveness on these sockets (FrameSocket.livenessByRuntime).
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: SOCKET_IDLE_TIMEOUT_S,
    });
    socket.addEventListener("close", release);
    routes.accept(socket);
    return response;
  }

  /** Refuses one connection too many from `ip`, and journals why. */
  #tooMany(router: Router, ip: string, open: number, max: number): Response {
    const detail =
      `${CONNECTION_LIMIT_DETAIL}${open} connections from ${ip} are open (limit ${max})`;
    router.post({
      type: "Refused",
      link: `ip:${ip}`,
      raw: "",
      reason: `TIMEOUT: ${detail}`,
      at_ms: this.o.clock.now(),
    });
    return new Response(`TIMEOUT: ${detail}; close one and try again\n`, {
      status: 429,
      headers: { "retry-after": "5" },
    });
  }
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
function serve(
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
