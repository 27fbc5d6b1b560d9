/**
 * Real processes for integration tests: a server (`main.ts serve`) on a loopback port chosen by
 * the OS, and terminal clients in `--json` mode driven through stdin/stdout. Servers get a
 * pre-generated fixture key so no test waits for RSA-4096 key generation.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "main.ts");

/** Path of a fixture key (PKCS#8 PEM). */
export function fixtureKeyPath(name: string): string {
  return join(ROOT, "tests/fixtures/keys", `${name}.pem`);
}

/** A running server process. */
export interface ServerProcess {
  url: string;
  port: number;
  server_id: string;
  dataDir: string;
  /** stderr lines so far (JSON logs). */
  logs: string[];
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash. */
  kill(): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT to freeze a server). */
  signal(signal: Deno.Signal): void;
}

/** Makes a data dir holding a fixture server key. */
export async function makeDataDir(keyName: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "socp-test-" });
  await Deno.copyFile(fixtureKeyPath(keyName), join(dir, "server_key.pem"));
  await Deno.chmod(join(dir, "server_key.pem"), 0o600);
  return dir;
}

/** Starts `main.ts serve` on 127.0.0.1 and resolves once it listens. */
export async function startServerProcess(
  dataDir: string,
  extra: string[] = [],
  port = 0,
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "serve",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      ...extra,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const logs: string[] = [];
  const info = await untilListening(child, logs, { timeoutMs: 20_000 });
  const end = async (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
  };
  return {
    url: info.url,
    port: Number(new URL(info.url).port),
    server_id: info.server_id,
    dataDir,
    logs,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    signal: (signal) => child.kill(signal),
  };
}

/**
 * Collects a spawned server's stderr lines into `logs` (the newest `keep` of them: they say why
 * a server died), hands each JSON log entry to `onEntry`, and resolves with the "listening"
 * entry. A server that exits or stays silent past `timeoutMs` is killed and the error shows its
 * log.
 */
export async function untilListening(
  child: Deno.ChildProcess,
  logs: string[],
  o: { timeoutMs: number; keep?: number; onEntry?: (entry: Record<string, unknown>) => void },
): Promise<{ url: string; server_id: string }> {
  const listening = Promise.withResolvers<{ url: string; server_id: string }>();
  const keep = o.keep ?? Infinity;
  void (async () => {
    for await (const line of lines(child.stderr)) {
      if (logs.length >= keep) logs.splice(0, Math.ceil(keep / 10));
      logs.push(line);
      try {
        const entry = JSON.parse(line);
        if (entry.message === "listening") listening.resolve(entry);
        o.onEntry?.(entry);
      } catch {
        // Not a log line (e.g. a Deno warning); kept in `logs` for diagnosis.
      }
    }
    listening.reject(new Error(`server exited before listening:\n${logs.join("\n")}`));
  })();
  const timer = setTimeout(
    () =>
      listening.reject(
        new Error(`server did not listen within ${o.timeoutMs / 1000} s:\n${logs.join("\n")}`),
      ),
    o.timeoutMs,
  );
  try {
    return await listening.promise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A terminal client process in `--json` mode. */
export interface ClientProcess {
  user_id: string;
  events: Record<string, unknown>[];
  /** Writes one command line. */
  command(line: string): Promise<void>;
  /** Waits for an event matching `match`, seen before or after the call. */
  next(
    match: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
    label?: string,
  ): Promise<Record<string, unknown>>;
  /** Sends /quit and waits for the exit code. */
  quit(): Promise<number>;
  /** Waits for the exit code (of a client that ends by itself). */
  status(): Promise<number>;
  kill(): Promise<void>;
}

/** Starts `main.ts client --json` for `name`, importing a fixture key on first use. */
export async function startClientProcess(
  url: string,
  name: string,
  keystoreDir: string,
  keyName = name,
  extra: string[] = [],
): Promise<ClientProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "client",
      "--json",
      "--server",
      url,
      "--name",
      name,
      "--keystore",
      join(keystoreDir, `${name}.json`),
      "--import-key",
      fixtureKeyPath(keyName),
      "--downloads",
      join(keystoreDir, "downloads", name),
      ...extra,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", SOCP_PASSPHRASE: `passphrase of ${name}` },
  }).spawn();
  const events: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let wake = () => {};
  void (async () => {
    for await (const line of lines(child.stdout)) {
      events.push(JSON.parse(line));
      wake();
    }
  })();
  void (async () => {
    for await (const line of lines(child.stderr)) stderr.push(line);
  })();
  const writer = child.stdin.getWriter();
  const next = async (
    match: (e: Record<string, unknown>) => boolean,
    timeoutMs = 15_000,
    label = "event",
  ) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = events.find(match);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `${name}: no ${label} within ${timeoutMs} ms; events: ${
            JSON.stringify(events).slice(0, 2000)
          }; stderr: ${stderr.join("\n")}`,
        );
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  const ready = await next((e) => e.event === "ready" || e.event === "closed", 30_000, "ready");
  if (ready.event !== "ready") {
    throw new Error(`${name} could not connect: ${JSON.stringify(ready)} ${stderr.join("\n")}`);
  }
  return {
    user_id: String(ready.user_id),
    events,
    command: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    next,
    async quit() {
      await writer.write(new TextEncoder().encode("/quit\n"));
      await writer.close().catch(() => {});
      return (await child.status).code;
    },
    status: async () => (await child.status).code,
    kill: () => killChild(child, writer),
  };
}

/** Kills a child process (SIGKILL), closes its stdin and waits for it to end. */
export async function killChild(
  child: Deno.ChildProcess,
  stdin: WritableStreamDefaultWriter<Uint8Array>,
): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* already gone */ }
  await stdin.close().catch(() => {});
  await child.status;
}

/** The lines of a text stream. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
    }
  }
  if (buffer) yield buffer;
}

/** Lowest port the kernel hands out on its own (outgoing connections, listening on port 0). */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch {
    return 32_768;
  }
})();

/**
 * A free loopback port for a server that keeps its port across restarts; we release it for the
 * server to take. It is picked at random below the kernel's ephemeral range: a port the OS picked
 * could be handed to another process's connection before our server binds it (seen in CI as
 * AddrInUse with tests running in parallel); one from here is only ever taken on purpose.
 */
export function freePort(): number {
  const low = 10_000;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (EPHEMERAL_LOW - low));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  throw new Error(`no free loopback port in ${low}..${EPHEMERAL_LOW - 1} after 200 tries`);
}

/** Public key (base64url DER SPKI) of a fixture key, via `main.ts identity` on a fresh data dir. */
export async function fixturePubkey(keyName: string): Promise<string> {
  const dir = await makeDataDir(keyName);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "identity", "--data-dir", dir],
    stdout: "piped",
    stderr: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).pubkey;
}

/** Writes a bootstrap YAML file with fast test timings. */
export async function writeBootstrap(
  dir: string,
  introducers: { host: string; port: number; pubkey: string }[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const lines = ["bootstrap_servers:"];
  for (const i of introducers) {
    lines.push(`  - host: "${i.host}"`, `    port: ${i.port}`, `    pubkey: "${i.pubkey}"`);
  }
  if (introducers.length === 0) lines[0] = "bootstrap_servers: []";
  for (const [k, v] of Object.entries({ ...FAST_TIMINGS, ...extra })) {
    lines.push(`${k}: ${JSON.stringify(v)}`);
  }
  const path = join(dir, "bootstrap.yaml");
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return path;
}

/**
 * Heartbeats, timeouts and backoff shortened so federation tests run in seconds, with room for
 * a busy 2-core CI machine running several servers at once.
 */
export const FAST_TIMINGS = {
  heartbeat_interval_ms: 250,
  link_timeout_ms: 2000,
  reconnect_backoff_base_ms: 50,
  reconnect_backoff_max_ms: 400,
};

/** GET /health of a server. */
export async function health(port: number): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  return await response.json();
}

/** Polls `check` until it returns true, or fails after `timeoutMs` with `what`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
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
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for: ${what}${last ? ` (last error: ${last})` : ""}`,
  );
}

/** Runs `main.ts replay` with `args`; returns exit code and output. */
export async function runReplay(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "replay", ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Asserts that `replay --check` re-derives exactly what a server recorded. */
export async function assertReplayMatches(dataDir: string): Promise<void> {
  const r = await runReplay("--data-dir", dataDir, "--check");
  if (r.code !== 0 || !/every verdict and event matches/.test(r.stdout)) {
    throw new Error(
      `replay --check failed for ${dataDir} (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${
        r.stderr.slice(-2000)
      }`,
    );
  }
}
