/**
 * A server in the test's own process (`startServer`), for tests that need its internals
 * (journal, links, memory) or settings no flag exposes (limits). Uses a fixture key, so no RSA
 * key generation, and listens on a loopback port the OS picks.
 * @module
 */
import { buildConfig, type ConfigOverrides } from "../../actors/server/config.ts";
import type { Limits } from "../../protocol/limits.ts";
import { type RunningServer, startServer } from "../../actors/server/server.ts";
import { silentLogger } from "../../lib/log.ts";
import { type Clock, ManualClock } from "../../lib/world.ts";
import { makeDataDir } from "./processes.ts";

/** A running in-process server and how to reach it. */
export interface InProcessServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  /** Journal reasons of dropped rows so far. */
  droppedReasons(): string[];
  /** Why links closed so far (journal rows of kind "close"). */
  closeReasons(): string[];
  close(): Promise<void>;
}

/** Starts a server in this process with `limits` (and other overrides) on 127.0.0.1. */
export async function startInProcess(
  o: {
    key?: string;
    limits?: Partial<Limits>;
    overrides?: ConfigOverrides;
    yaml?: string;
    /** Time for the server's timers and stamps (a ManualClock: no real waits). */
    clock?: Clock;
  } = {},
): Promise<InProcessServer> {
  const dataDir = await makeDataDir(o.key ?? "server1");
  const { config } = buildConfig(o.yaml, {
    data_dir: dataDir,
    host: "127.0.0.1",
    port: 0,
    ...o.overrides,
    limits: { ...o.limits, ...o.overrides?.limits },
  });
  const server = await startServer({
    config,
    log: silentLogger,
    checkInvariants: true,
    ...(o.clock ? { clock: o.clock } : {}),
  });
  const scheme = config.tls.cert_file ? "wss" : "ws";
  let closed = false;
  return {
    server,
    url: `${scheme}://127.0.0.1:${server.port}`,
    dataDir,
    droppedReasons() {
      server.store.commit();
      return [...server.store.readJournal()].filter((r) => r.verdict === "dropped").map((r) =>
        r.reason
      );
    },
    closeReasons() {
      server.store.commit();
      return [...server.store.readJournal()].filter((r) => r.kind === "close").map((r) =>
        String(JSON.parse(r.input).reason)
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeOn(server, o.clock);
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Closes `server`. Its shutdown waits on its own clock (for the links' last frames, bounded), so
 * on a manual clock time is moved on, a little at a time, until the close is done.
 */
async function closeOn(server: RunningServer, clock: Clock | undefined): Promise<void> {
  if (!(clock instanceof ManualClock)) return await server.close();
  let done = false;
  const closing = server.close().finally(() => done = true);
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    clock.advance(5);
  }
  await closing;
}
