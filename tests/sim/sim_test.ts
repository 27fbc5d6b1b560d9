// Goal: the Router's pure core keeps its invariants, never delivers a DM twice, and converges
// once the network heals, under seeded faults (ARCHITECTURE.md §4.6).
// Method: whole seeded runs of N servers and M users on the fake network (sim_world.ts), for
// fixed seeds and three fresh ones per run. A failure names the seed and the command that
// replays it.
import assert from "node:assert/strict";
import { freshSeed, summary } from "./main.ts";
import { Dice, FakeNetwork, Scheduler } from "./fake_network.ts";
import { DEFAULT_NETWORK_OPTIONS } from "./fake_network.ts";
import { calmOptions, runSimulation, SimFailure, simOptions, World } from "./sim_world.ts";
import { LINK_TIMEOUT_MS, RECONNECT_BACKOFF_BASE_MS } from "../../protocol/limits.ts";

const FIXED_SEEDS = Array.from({ length: 20 }, (_, i) => BigInt(i + 1));
const FRESH_SEEDS = [freshSeed(), freshSeed(), freshSeed()];

function runSeed(seed: bigint): string {
  const options = simOptions(seed);
  try {
    return summary(runSimulation(options));
  } catch (e) {
    if (!(e instanceof SimFailure)) throw e;
    const trace = e.trace.slice(-25).map((line) => `  ${line}`).join("\n");
    throw new Error(`${e.message}\nlast trace lines:\n${trace}`);
  }
}

for (const seed of FIXED_SEEDS) {
  Deno.test(`simulation keeps every invariant: seed ${seed}`, () => {
    runSeed(seed);
  });
}

Deno.test(`simulation keeps every invariant: fresh seeds ${FRESH_SEEDS.join(", ")}`, () => {
  for (const seed of FRESH_SEEDS) {
    console.log(`fresh SEED=${seed}: ${runSeed(seed)}`);
  }
});

// Seeds whose menus partition the network, run with the flag on some servers only and on none:
// presence converges after every heal whichever rule each pair of servers follows.
for (const gossip_direct of ["mixed", "none", "all"] as const) {
  Deno.test(`simulation converges after partitions with gossip_direct on ${gossip_direct}`, () => {
    for (const seed of [6n, 13n]) {
      const options = simOptions(seed, { gossip_direct, servers: 6 });
      const report = runSimulation(options);
      assert.ok(report.network.partitions > 0, `seed ${seed} partitions the network`);
      const digests = report.counters.get("server frame GOSSIP_DIGEST") ?? 0;
      if (gossip_direct === "none") assert.equal(digests, 0);
      else assert.ok(digests > 0, `seed ${seed}: links between flagged servers re-sync by digest`);
    }
  });
}

Deno.test("simulation replays a seed exactly", () => {
  const options = simOptions(5n, { steps: 800, rounds: 1 });
  const a = runSimulation(options);
  const b = runSimulation(options);
  assert.deepEqual(b, a);
});

Deno.test("FakeNetwork keeps each direction in order and drops nothing on a live link", () => {
  const scheduler = new Scheduler(0);
  const got: string[] = [];
  const network = new FakeNetwork(scheduler, new Dice(1n), {
    ...DEFAULT_NETWORK_OPTIONS,
    packet_loss_probability: 0,
    packet_replay_probability: 0,
  }, {
    receive: (_conn, end, text) => got.push(`${end}:${text}`),
    closed: (_conn, end) => got.push(`${end}:closed`),
  }, () => {});
  const conn = network.open("server", "a", "b");
  for (let i = 0; i < 50; i++) network.send(conn, 0, `m${i}`);
  network.close(conn, 0, "bye");
  while (scheduler.next());
  assert.deepEqual(got, [
    "0:closed",
    ...Array.from({ length: 50 }, (_, i) => `1:m${i}`),
    "1:closed",
  ]);
});

Deno.test("FakeNetwork holds messages across a short partition and times links out in a long one", () => {
  const scheduler = new Scheduler(0);
  const got: string[] = [];
  const network = new FakeNetwork(scheduler, new Dice(2n), DEFAULT_NETWORK_OPTIONS, {
    receive: (_conn, end, text) => got.push(`${end}:${text}@${scheduler.now >= 10_000}`),
    closed: (_conn, end) => got.push(`${end}:closed`),
  }, () => {});
  network.faults = false;
  const short = network.open("server", "a", "b");
  network.partition("a", "b", 10_000);
  network.send(short, 0, "held");
  while (scheduler.next());
  assert.deepEqual(got, ["1:held@true"]);
  got.length = 0;
  network.partition("a", "b", 200_000);
  network.send(short, 1, "lost");
  while (scheduler.next());
  assert.deepEqual(got.sort(), ["0:closed", "1:closed"]);
});

// A server cut off from all others long enough for every link and many redials to fail: once
// the partition ends, the first link back brings the other redials forward (the real Peers), so
// the mesh is whole within a few base delays of it, not when the last peer's backoff runs out.
Deno.test("after a partition heals, the other links follow the first one back within a few base delays", () => {
  const world = new World(calmOptions(3n, 16, 16));
  world.network.faults = false;
  world.boot();
  world.settle(1_000_000);
  const cut = world.servers.at(-1)!;
  for (const other of world.servers) {
    if (other !== cut) world.network.partition(cut.id, other.id, 10 * LINK_TIMEOUT_MS);
  }
  const until = world.scheduler.now + 8 * LINK_TIMEOUT_MS;
  while (world.scheduler.now < until && world.stepOnce());
  assert.equal(cut.state.servers.size, 0, "every link of the cut-off server timed out");
  const failures = cut.peers.status().map((s) => s.failures);
  assert.ok(Math.min(...failures) >= 4, `redials backed off: ${failures}`);
  world.network.healAll();
  let first = 0;
  let whole = 0;
  while (whole === 0 && world.stepOnce()) {
    if (first === 0 && cut.state.servers.size > 0) first = world.scheduler.now;
    if (cut.state.servers.size === world.servers.length - 1) whole = world.scheduler.now;
  }
  assert.ok(whole > 0, "the mesh is whole again");
  const handshake = 2 * world.options.network.dial_timeout_ms;
  assert.ok(
    whole - first <= RECONNECT_BACKOFF_BASE_MS + handshake,
    `all links back ${whole - first} ms after the first`,
  );
});
