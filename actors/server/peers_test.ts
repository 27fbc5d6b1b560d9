// Goal: a pinned server that never links (the probe's fake peer at 127.0.0.1:1) is retried with
// backoff, shown by status with when it will be dropped, and forgotten with one log line once
// the bound has passed since its first try; it is dialled again when announced elsewhere.
// Real dials to a closed loopback port; time moves only through the injected clock.
// A link coming back to a lost server brings the other retries forward, at most once per
// longest backoff, so a heal does not wait out every peer's own backoff and a flapping network
// does not cause a reconnect storm (scripted dials, no sockets).
import assert from "node:assert/strict";
import type { Logger } from "../../lib/log.ts";
import { ManualClock, SeededRandom } from "../../lib/world.ts";
import { type DialOutcome, Peers, socketConnector } from "./peers.ts";
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
    connect: socketConnector(() => assert.fail("nothing listens on port 1")),
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

/** Three pinned peers behind a partition that the test lifts: dials fail while it holds. */
function partitioned() {
  const clock = new ManualClock();
  const state = initialRouterState("00000000-0000-4000-8000-000000000001");
  const ids = ["a", "b", "c"].map((x) => `00000000-0000-4000-8000-0000000000${x}${x}`);
  ids.forEach((id, i) => state.server_addrs.set(id, { host: "127.0.0.1", port: 9000 + i }));
  const world = { partitioned: true, dials: 0, to: new Map<string, number>() };
  const peers = new Peers({
    clock,
    random: new SeededRandom(3n),
    log: recordingLogger().log,
    state: () => state,
    backoffBaseMs: 1_000,
    backoffMaxMs: 60_000,
    connect: (id, _addr, done: (o: DialOutcome) => void) => {
      world.dials++;
      world.to.set(id, (world.to.get(id) ?? 0) + 1);
      // The answer comes later, as a socket's would.
      clock.setTimeout(() => {
        if (world.partitioned) done({ ok: false, error: "timeout" });
        else done({ ok: true, adopt: () => {}, discard: () => {} });
      }, 10);
    },
  });
  for (const id of ids) peers.dial(id);
  const retryIn = (id: string) =>
    peers.status().find((s) => s.server_id === id)!.retry_at_ms! - clock.now();
  return { clock, ids, world, peers, retryIn };
}

Deno.test("a lost server linking again brings the other retries forward, once per longest backoff", () => {
  const { clock, ids, world, peers, retryIn } = partitioned();
  const [a, b, c] = ids as [string, string, string];
  // Ten minutes of failed dials: every retry is far off, up to the longest backoff.
  clock.advance(10 * 60_000);
  assert.ok(retryIn(b) > 1_000 && retryIn(c) > 1_000, `b ${retryIn(b)}, c ${retryIn(c)}`);
  const before = world.dials;

  // The partition heals and `a` dials in: the others are retried within one base delay.
  world.partitioned = false;
  peers.linked(a);
  assert.ok(retryIn(b) <= 1_000 && retryIn(c) <= 1_000, `b ${retryIn(b)}, c ${retryIn(c)}`);
  clock.advance(1_000 + 10);
  assert.equal(world.dials, before + 2);
  assert.deepEqual(peers.status().map((s) => s.waiting), [false, false, false]);
  peers.stop();
});

Deno.test("a flapping link brings retries forward at most once per longest backoff", () => {
  const { clock, ids, world, peers, retryIn } = partitioned();
  const [a, b] = ids as [string, string, string];
  clock.advance(10 * 60_000);
  peers.linked(a);
  // The hastened dials fail (the partition holds): they back off from where they were.
  clock.advance(1_000 + 10);
  assert.ok(retryIn(b) > 1_000, `b ${retryIn(b)}`);
  // `a` is lost and comes back, again and again, within the longest backoff: no more hastening.
  const others = () => (world.to.get(b) ?? 0) + (world.to.get(ids[2]!) ?? 0);
  const before = others();
  for (let i = 0; i < 20; i++) {
    peers.dial(a);
    clock.advance(2_000);
    peers.linked(a);
  }
  const far = retryIn(b);
  assert.ok(far > 1_000, `b ${far}`);
  // b and c were dialled only on their own backoff (at least 30 s apart), not once per flap.
  assert.ok(others() - before <= 4, `${others() - before} dials to b and c in 40 s`);
  // Once the longest backoff has passed, a returning link hastens again.
  clock.advance(60_000);
  peers.dial(a);
  clock.advance(3_000);
  peers.linked(a);
  assert.ok(retryIn(b) <= 1_000, `b ${retryIn(b)}`);
  peers.stop();
});
