/**
 * What a running server tells about itself over HTTP on its WebSocket port: `GET /metrics`
 * (Prometheus text, see `metrics.ts`) and `GET /status` (JSON: peers, link state, last frame,
 * reconnect backoff, users per server), and the `main.ts status` command that prints the latter.
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import type { Link } from "../links/link.ts";
import { type CryptoLibrary, type Gauges, type Metrics, renderPrometheus } from "./metrics.ts";
import type { Router } from "../router/router.ts";

/** The live parts a status page reads. */
export interface StatusSources {
  router: Router;
  links: ReadonlyMap<string, Link>;
  peers: { status(): RetryStatus[] };
  metrics: Metrics;
  build: string;
  now: () => number;
}

/** One server being retried, for status pages. */
export interface RetryStatus {
  server_id: string;
  failures: number;
  waiting: boolean;
  /** When the next dial runs (Unix ms), if one is scheduled. */
  retry_at_ms?: number;
  /** When it is forgotten if it has not linked by then (Unix ms); absent once it linked. */
  forget_at_ms?: number;
}

/** One other server as `/status` shows it. */
export interface PeerStatus {
  server_id: string;
  host?: string;
  port?: number;
  linked: boolean;
  /** Who dialled the live link. */
  direction?: "outbound" | "inbound";
  link?: string;
  /** Milliseconds since the last frame on the live link. */
  last_frame_ms_ago?: number;
  outbox_depth?: number;
  /**
   * Reconnect state: failed dials in a row, whether a retry is scheduled and in how long, and
   * in how long the server is forgotten if it has not linked by then (absent once it linked).
   */
  backoff?: { failures: number; waiting: boolean; retry_in_ms?: number; forget_in_ms?: number };
  /** Users this server hosts, as it advertised them. */
  users: number;
  /** Placeholder ids it joined with and may still use, standing for this id and its key. */
  aliases?: string[];
}

/** The `/status` document. */
export interface ServerStatus {
  server_id: string;
  build: string;
  pid: number;
  uptime_s: number;
  users_online: number;
  users_registered: number;
  links: Gauges["links"];
  router_mailbox_depth: number;
  public_channel_version: number;
  /** The library that signs and decrypts (absent from servers of older builds). */
  crypto?: CryptoLibrary;
  servers: PeerStatus[];
}

/** Answers `GET /metrics` and `GET /status`; undefined for any other request. */
export function observeRoute(request: Request, sources: StatusSources): Response | undefined {
  if (request.method !== "GET") return undefined;
  const path = new URL(request.url).pathname;
  if (path === "/metrics") {
    return new Response(renderPrometheus(sources.metrics, gauges(sources), sources.build), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
  if (path === "/status") return Response.json(serverStatus(sources));
  return undefined;
}

/** Gauges of the live server. */
export function gauges({ router, links }: StatusSources): Gauges {
  const s = router.state;
  const count = { user: 0, server: 0, pending: 0 };
  let sum = 0;
  let max = 0;
  for (const link of links.values()) {
    const depth = link.outboxDepth;
    sum += depth;
    max = Math.max(max, depth);
    count[kindOf(link)]++;
  }
  const memory = Deno.memoryUsage();
  const cpu = process.cpuUsage();
  let seen = 0;
  for (const where of s.user_locations.values()) if (where !== "local") seen++;
  return {
    router_mailbox_depth: router.mailbox.depth,
    outbox_depth_sum: sum,
    outbox_depth_max: max,
    links: count,
    users_online: s.local_users.size,
    users_remote: seen,
    users_registered: s.users.size,
    servers_linked: s.servers.size,
    servers_known: s.server_keys.size,
    seen_ids: s.seen_ids.size,
    public_channel_version: s.public_channel.version,
    resident_memory_bytes: memory.rss,
    heap_used_bytes: memory.heapUsed,
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
  };
}

function kindOf(link: Link): keyof Gauges["links"] {
  if (link.handler?.role === "server") return "server";
  if (link.handler?.role === "user" && link.handler.userId !== undefined) return "user";
  return "pending";
}

/** The `/status` document of the live server. */
export function serverStatus(sources: StatusSources): ServerStatus {
  const { router, links, peers, now } = sources;
  const s = router.state;
  const backoff = new Map(peers.status().map((p) => [p.server_id, p]));
  const users = new Map<string, number>();
  for (const where of s.user_locations.values()) users.set(where, (users.get(where) ?? 0) + 1);
  const ids = new Set([...s.server_keys.keys(), ...s.servers.keys(), ...backoff.keys()]);
  ids.delete(s.server_id);
  const servers = [...ids].sort().map((server_id): PeerStatus => {
    const addr = s.server_addrs.get(server_id);
    const live = s.servers.get(server_id);
    const link = live ? links.get(live.link) : undefined;
    const retry = backoff.get(server_id);
    const peer: PeerStatus = {
      server_id,
      linked: live !== undefined,
      users: users.get(server_id) ?? 0,
    };
    if (addr) Object.assign(peer, { host: addr.host, port: addr.port });
    if (live) {
      peer.direction = live.outbound ? "outbound" : "inbound";
      peer.link = live.link;
    }
    if (link) {
      peer.last_frame_ms_ago = Math.max(0, now() - link.lastReceivedMs);
      peer.outbox_depth = link.outboxDepth;
    }
    if (retry) peer.backoff = backoffOf(retry, now());
    const aliases = [...s.server_aliases].filter(([, id]) => id === server_id).map(([a]) => a);
    if (aliases.length > 0) peer.aliases = aliases;
    return peer;
  });
  const g = gauges(sources);
  return {
    server_id: s.server_id,
    build: sources.build,
    pid: Deno.pid,
    uptime_s: Math.round((now() - sources.metrics.started_ms) / 1000),
    users_online: g.users_online,
    users_registered: g.users_registered,
    links: g.links,
    router_mailbox_depth: g.router_mailbox_depth,
    public_channel_version: g.public_channel_version,
    crypto: sources.metrics.cryptoLibrary,
    servers,
  };
}

function backoffOf(retry: RetryStatus, now: number): NonNullable<PeerStatus["backoff"]> {
  const b: NonNullable<PeerStatus["backoff"]> = {
    failures: retry.failures,
    waiting: retry.waiting,
  };
  if (retry.retry_at_ms !== undefined) b.retry_in_ms = Math.max(0, retry.retry_at_ms - now);
  if (retry.forget_at_ms !== undefined) b.forget_in_ms = Math.max(0, retry.forget_at_ms - now);
  return b;
}

const STATUS_USAGE = `Usage: deno run -A main.ts status [--url URL | --port N] [--json]

Prints a running server's peers: link state, last frame, reconnect backoff, users per server.
Reads GET /status on the server's port (GET /metrics has the counters, for Prometheus).

Options:
  --url URL    http://HOST:PORT of the server (ws:// and wss:// are accepted too;
               default http://127.0.0.1:8765)
  --port N     Same as --url http://127.0.0.1:N
  --json       Print the JSON document as is
  -h, --help   Show this help

Exit codes: 0 printed, 1 the server could not be reached, 2 bad usage.
`;

/** `main.ts status`: prints `/status` of a server; returns the exit code. */
export async function runStatus(
  args: string[],
  print: (line: string) => void = (line) => console.log(line),
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        url: { type: "string" },
        port: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${STATUS_USAGE}`);
    return 2;
  }
  if (values.help) return (print(STATUS_USAGE), 0);
  let base = values.url ?? "http://127.0.0.1:8765";
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      console.error(`Invalid --port "${values.port}": expected a number from 1 to 65535`);
      return 2;
    }
    base = `http://127.0.0.1:${port}`;
  }
  let url: URL;
  try {
    url = new URL("/status", base.replace(/^ws(s?):/, "http$1:"));
  } catch {
    console.error(`Invalid --url "${base}"`);
    return 2;
  }
  let status: ServerStatus;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    status = await response.json();
  } catch (e) {
    console.error(`Cannot read ${url}: ${(e as Error).message}`);
    return 1;
  }
  if (values.json) return (print(JSON.stringify(status, null, 2)), 0);
  for (const line of formatStatus(status)) print(line);
  return 0;
}

/** The human-readable lines of a status document. */
export function formatStatus(s: ServerStatus): string[] {
  const linked = s.servers.filter((p) => p.linked).length;
  const lines = [
    `server ${s.server_id} (build ${s.build}, pid ${s.pid}, up ${duration(s.uptime_s * 1000)})`,
    `  ${s.users_online} users online, ${s.users_registered} registered; links: ${s.links.user} user, ` +
    `${s.links.server} server, ${s.links.pending} pending; router mailbox ${s.router_mailbox_depth}; ` +
    `public channel v${s.public_channel_version}`,
    `  ${linked}/${s.servers.length} known servers linked`,
  ];
  // A server of an older build has no crypto field.
  if (s.crypto) lines.push(`  crypto: ${describeCryptoLibrary(s.crypto)}`);
  if (s.servers.length === 0) return lines;
  const rows = [["SERVER", "ADDRESS", "LINK", "LAST FRAME", "OUTBOX", "BACKOFF", "USERS"]];
  for (const p of s.servers) {
    rows.push([
      p.aliases ? `${p.server_id} (alias ${p.aliases.join(", ")})` : p.server_id,
      p.host !== undefined ? `${p.host}:${p.port}` : "?",
      p.linked ? `up (${p.direction})` : "down",
      p.last_frame_ms_ago !== undefined ? `${duration(p.last_frame_ms_ago)} ago` : "-",
      p.outbox_depth !== undefined ? String(p.outbox_depth) : "-",
      p.backoff ? backoffText(p.backoff) : "-",
      String(p.users),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  lines.push("");
  for (const row of rows) {
    lines.push(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
  return lines;
}

function backoffText(b: NonNullable<PeerStatus["backoff"]>): string {
  const retry = b.retry_in_ms !== undefined
    ? `, retry in ${duration(b.retry_in_ms)}`
    : b.waiting
    ? ", retry scheduled"
    : "";
  const forget = b.forget_in_ms !== undefined ? `, dropped in ${duration(b.forget_in_ms)}` : "";
  return `${b.failures} failed${retry}${forget}`;
}

/** "OpenSSL 3.5.7 (/path, built from Debian openssl_3.5.7.orig.tar.gz)". */
export function describeCryptoLibrary(c: CryptoLibrary): string {
  const where = [c.path, c.origin].filter((part) => part !== undefined && part !== "");
  return `${c.library}${c.version ? ` ${c.version}` : ""}` +
    (where.length ? ` (${where.join(", ")})` : "");
}

function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
