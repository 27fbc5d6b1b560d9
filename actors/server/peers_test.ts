// Goal: a pinned server that never links (the probe's fake peer at 127.0.0.1:1) is retried with
// backoff, shown by status with when it will be dropped, and forgotten with one log line once
// the bound has passed since its first try; it is dialled again when announced elsewhere.
// Real dials to a closed loopback port; time moves only through the injected clock.
import assert from "node:assert/strict";
import type { Logger } from "../../lib/log.ts";
import { ManualClock, SeededRandom } from "../../lib/world.ts";
import { Peers } from "./peers.ts";
import { initialRouterState } from "../router/router_state.ts";
import { formatStatus, type ServerStatus } from "../ops/status.ts";

const GONE = "00000000-0000-4000-8000-0000000000aa";

function recordingLogger(): { log: Logger; lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at = (level: string) => (message: string) => void lines.push({ level, message });
  return {
    lines,
    log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
  };
}

/** Waits (real time, bounded) until `done` holds: a dial to a closed port fails in ms. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), "condition not reached");
}

Deno.test("a server that never links is retried, shown with its drop time, then forgotten once", async () => {
  const clock = new ManualClock();
  const state = initialRouterState("00000000-0000-4000-8000-000000000001");
  state.server_addrs.set(GONE, { host: "127.0.0.1", port: 1 });
  const { log, lines } = recordingLogger();
  const forgetAfterMs = 20_000;
  const peers = new Peers({
    clock,
    random: new SeededRandom(7n),
    log,
    state: () => state,
    backoffBaseMs: 1_000,
    backoffMaxMs: 4_000,
    adopt: () => assert.fail("nothing listens on port 1"),
    forgetAfterMs,
  });
  const start = clock.now();
  peers.dial(GONE);
  clock.advance(0);
  await until(() => peers.status()[0]?.failures === 1);
  const [retrying] = peers.status();
  assert.equal(retrying!.forget_at_ms, start + forgetAfterMs);
  assert.ok(retrying!.waiting && retrying!.retry_at_ms! > clock.now());

  // Retries until the bound, each after its backoff.
  let failures = 1;
  while (peers.status().length > 0) {
    clock.advance(peers.status()[0]!.retry_at_ms! - clock.now());
    await until(() => peers.status().length === 0 || peers.status()[0]!.failures > failures);
    failures++;
    assert.ok(failures < 50, "forgotten within a bounded number of tries");
  }
  assert.ok(clock.now() >= start + forgetAfterMs);
  const forgotten = lines.filter((l) => l.message === "forgetting a server that never linked");
  assert.equal(forgotten.length, 1);
  assert.equal(forgotten[0]!.level, "warn");
  // Only the first failure was logged above debug: no line at every backoff.
  assert.equal(lines.filter((l) => l.level === "info").length, 1);

  // Asked again at the same address: still forgotten.
  peers.dial(GONE);
  assert.deepEqual(peers.status(), []);
  // Announced at another address: tried again, with a new bound.
  state.server_addrs.set(GONE, { host: "127.0.0.1", port: 2 });
  peers.dial(GONE);
  assert.equal(peers.status()[0]!.forget_at_ms, clock.now() + forgetAfterMs);
  peers.stop();
});

Deno.test("status shows when a retried server is tried next and when it is dropped", () => {
  const status: ServerStatus = {
    server_id: "00000000-0000-4000-8000-000000000001",
    build: "b",
    pid: 1,
    uptime_s: 5,
    users_online: 0,
    users_registered: 0,
    links: { user: 0, server: 0, pending: 0 },
    router_mailbox_depth: 0,
    public_channel_version: 0,
    servers: [{
      server_id: GONE,
      host: "127.0.0.1",
      port: 1,
      linked: false,
      backoff: { failures: 3, waiting: true, retry_in_ms: 4_000, forget_in_ms: 58 * 60_000 },
      users: 0,
    }],
  };
  const row = formatStatus(status).find((l) => l.startsWith(GONE))!;
  assert.match(row, /3 failed, retry in 4s, dropped in 58m00s/);
});
