/**
 * Server processes for the benchmarks: `main.ts serve` on loopback with a fixture key, default
 * protocol timings (15 s heartbeats), fast reconnects, and limits raised only where a scenario
 * needs it (connections per address). Meshes join through the first server. Each process's pid
 * is known, for /proc CPU and memory accounting; `--cpu-prof` can be passed to Deno.
 * @module
 */
import { createPublicKey, generateKeyPair } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parsePrometheus } from "../actors/ops/metrics.ts";
import type { ServerStatus } from "../actors/ops/status.ts";
import { v8FlagsArg } from "../actors/server/v8_flags.ts";
import { writeFileAtomic } from "../lib/write_file.ts";
import { b64uEncode } from "../protocol/base64url.ts";
import { fixtureKeyPath, ROOT, untilListening } from "../tests/harness/processes.ts";

/** A running benchmark server. */
export interface BenchServer {
  name: string;
  url: string;
  port: number;
  pid: number;
  server_id: string;
  pubkey: string;
  dataDir: string;
  logs: string[];
  /** SIGTERM, wait, remove the data dir. */
  stop(): Promise<void>;
  /** Live heap reported after each forced GC (servers started with `exposeGc`). */
  gcReports: { heap_used: number; heap_total: number }[];
}

/** Options for {@linkcode startBenchServer}. */
export interface BenchServerOptions {
  /** Key name: a fixture (server1..server5) or `serverN`, generated once and cached. */
  key: string;
  name?: string;
  introducer?: BenchServer;
  /** YAML `limits:` entries. */
  limits?: Record<string, number>;
  /** Extra Deno flags (e.g. `--cpu-prof`, `--cpu-prof-dir=...`). */
  denoFlags?: string[];
  /** Start with `--expose-gc`, so {@linkcode collectGarbage} can force a full GC. */
  exposeGc?: boolean;
}

/** base64url DER SPKI of a key file (what servers pin and users present). */
export function spkiOf(path: string): string {
  const der = createPublicKey(Deno.readTextFileSync(path)).export({ type: "spki", format: "der" });
  return b64uEncode(new Uint8Array(der));
}

/** base64url DER SPKI of a fixture key. */
export function fixtureSpki(name: string): string {
  return spkiOf(fixtureKeyPath(name));
}

/** Where generated server keys are kept between runs (RSA-4096 generation takes seconds). */
const KEY_CACHE = join(Deno.env.get("TMPDIR") ?? "/tmp", "socp-bench-keys");

/** Path of a server key: a fixture, else generated once into {@linkcode KEY_CACHE}. */
export async function serverKeyPath(name: string): Promise<string> {
  const fixture = fixtureKeyPath(name);
  if (existsSync(fixture)) return fixture;
  const path = join(KEY_CACHE, `${name}.pem`);
  if (existsSync(path)) return path;
  await Deno.mkdir(KEY_CACHE, { recursive: true });
  const pem = await new Promise<string>((resolve, reject) =>
    generateKeyPair("rsa", {
      modulusLength: 4096,
      publicExponent: 65537,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    }, (err, _pub, priv) => (err ? reject(err) : resolve(priv)))
  );
  await writeFileAtomic(path, pem, { mode: 0o600 });
  return path;
}

/** Servers started and not yet stopped (stopped on SIGINT/SIGTERM by `stopEverything`). */
const running = new Set<BenchServer>();

/** Stops every server this process started (for signal handlers). */
export async function stopEverything(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** Starts `main.ts serve` and resolves once it listens (30 s at most). */
export async function startBenchServer(o: BenchServerOptions): Promise<BenchServer> {
  const keyPath = await serverKeyPath(o.key);
  const dataDir = await Deno.makeTempDir({ prefix: "socp-bench-" });
  await Deno.copyFile(keyPath, join(dataDir, "server_key.pem"));
  await Deno.chmod(join(dataDir, "server_key.pem"), 0o600);
  const yaml: string[] = [];
  if (o.introducer) {
    yaml.push(
      "bootstrap_servers:",
      `  - host: "127.0.0.1"`,
      `    port: ${o.introducer.port}`,
      `    pubkey: "${o.introducer.pubkey}"`,
    );
  } else yaml.push("bootstrap_servers: []");
  yaml.push("reconnect_backoff_base_ms: 100", "reconnect_backoff_max_ms: 2000");
  yaml.push(`limits: ${JSON.stringify({ connections_per_ip: 1000, ...o.limits })}`);
  const bootstrap = join(dataDir, "bootstrap.yaml");
  await Deno.writeTextFile(bootstrap, yaml.join("\n") + "\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(o.denoFlags ?? []),
      v8FlagsArg(o.exposeGc ? ["--expose-gc"] : []),
      join(ROOT, "main.ts"),
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--bootstrap",
      bootstrap,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const logs: string[] = [];
  const gcReports: BenchServer["gcReports"] = [];
  const info = await untilListening(child, logs, {
    timeoutMs: 30_000,
    keep: 10_000,
    onEntry: (entry) => {
      if (entry.message === "gc") gcReports.push(entry as BenchServer["gcReports"][number]);
    },
  });
  const port = Number(new URL(info.url).port);
  let stopped = false;
  void child.status.then((status) => {
    if (stopped) return;
    console.error(
      `server ${
        o.name ?? o.key
      } exited during the run (code ${status.code}, signal ${status.signal}); its last log lines:\n${
        logs.slice(-20).join("\n")
      }`,
    );
  });
  const server: BenchServer = {
    name: o.name ?? o.key,
    url: info.url,
    port,
    pid: child.pid,
    server_id: info.server_id,
    pubkey: spkiOf(keyPath),
    dataDir,
    logs,
    gcReports,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 30_000); // a busy server under --cpu-prof needs time to write its profile
      await child.status;
      clearTimeout(killer);
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
  running.add(server);
  return server;
}

/** Starts `n` servers: the first alone, the rest joining through it (at most 4 at a time). */
export async function startMesh(
  n: number,
  o: Omit<BenchServerOptions, "key" | "introducer"> = {},
): Promise<BenchServer[]> {
  // Keys first: generating a missing one must not delay a join.
  for (let k = 1; k <= n; k++) await serverKeyPath(`server${k}`);
  const first = await startBenchServer({ ...o, key: "server1", name: "s1" });
  const servers = [first];
  try {
    for (let i = 1; i < n; i += 4) {
      const batch = Array.from({ length: Math.min(4, n - i) }, (_, j) => i + j);
      const started = await Promise.allSettled(batch.map((k) =>
        startBenchServer({
          ...o,
          key: `server${k + 1}`,
          name: `s${k + 1}`,
          introducer: first,
        })
      ));
      // The ones that did start are stopped with the rest when another one failed.
      for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
      const failed = started.find((r) => r.status === "rejected");
      if (failed) throw failed.reason;
    }
    await until(`${n}-server full mesh`, 60_000, async () => {
      const all = await Promise.all(servers.map((s) => status(s)));
      return all.every((st) => st.servers.filter((p) => p.linked).length === n - 1);
    });
  } catch (e) {
    await stopAll(servers);
    throw e;
  }
  return servers;
}

export async function stopAll(servers: BenchServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

/** GET /metrics, parsed. */
export async function metrics(s: BenchServer): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${s.port}/metrics`, {
    signal: AbortSignal.timeout(30_000),
  });
  return parsePrometheus(await response.text());
}

/** GET /status. */
export async function status(s: BenchServer): Promise<ServerStatus> {
  const response = await fetch(`http://127.0.0.1:${s.port}/status`, {
    signal: AbortSignal.timeout(30_000),
  });
  return await response.json();
}

/** Sum of the metric samples whose key starts with `prefix`. */
export function sum(m: Map<string, number>, prefix: string): number {
  let total = 0;
  for (const [k, v] of m) if (k.startsWith(prefix)) total += v;
  return total;
}

/** Polls `check` every 50 ms until true; throws after `timeoutMs`. */
export async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}${last ? ` (${last})` : ""}`);
}

/**
 * Waits until the servers are quiet: Router mailboxes and outboxes empty and no RSA operation
 * for `quietMs` (a pending public-channel rekey finishes first), bounded by `timeoutMs`.
 */
export async function settle(
  servers: BenchServer[],
  timeoutMs = 60_000,
  quietMs = 600,
): Promise<void> {
  let last = "";
  let since = Date.now();
  await until("servers to settle", timeoutMs, async () => {
    const all = await Promise.all(servers.map(metrics));
    const busy = all.some((m) =>
      (m.get("socp_router_mailbox_depth") ?? 0) > 0 || (m.get("socp_outbox_depth_sum") ?? 0) > 0
    );
    const ops = all.map((m) => sum(m, "socp_crypto_ops_total")).join(",");
    if (busy || ops !== last) {
      last = ops;
      since = Date.now();
      return false;
    }
    return Date.now() - since >= quietMs;
  });
}

/**
 * Forces a full garbage collection in a server started with `exposeGc` (SIGUSR2, see `main.ts
 * serve`); returns the live heap after it, in bytes. No inspector: its event stream would cost
 * the server a quarter of its JS thread during the run.
 */
export async function collectGarbage(s: BenchServer): Promise<{ used: number; total: number }> {
  const seen = s.gcReports.length;
  Deno.kill(s.pid, "SIGUSR2");
  const deadline = Date.now() + 60_000;
  while (s.gcReports.length === seen) {
    if (Date.now() > deadline) throw new Error(`${s.name}: no gc report 60 s after SIGUSR2`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const report = s.gcReports[seen]!;
  return { used: report.heap_used, total: report.heap_total };
}
