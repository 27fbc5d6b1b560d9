/**
 * Scenario (g)'s simulated points: the seeded simulation (tests/sim) on a calm network, where
 * a mesh of 20, 50 or 100 servers fits in one process. Time is the simulation's virtual time
 * (one-way delays of mean 40 ms, no CPU cost), frames are messages between servers.
 *
 * - **join**: a user connects; the time until every server locates it, and the frames between
 *   servers until the world is quiet again;
 * - **heal**: one server is cut off from all others until its links time out, while users on
 *   the other servers move; then the partition ends. The time until presence has converged
 *   everywhere, the part of it after the last link came back (the re-sync, without the redial
 *   backoff), and the frames between servers from the heal until the world is quiet.
 * @module
 */
import { checkConverged } from "../tests/sim/checkers.ts";
import { calmOptions, SimFailure, World } from "../tests/sim/sim_world.ts";
import { LINK_TIMEOUT_MS } from "../protocol/limits.ts";

/** One simulated size. */
export interface SimScalePoint {
  servers: number;
  users: number;
  join_frames: number;
  join_ms_p50: number;
  join_ms_max: number;
  heal_frames: number;
  heal_ms: number;
  resync_ms: number;
  real_ms: number;
}

const SETTLE_MAX = 50_000_000;

/** Runs the join and heal measurements for `n` servers and `users` users (10 moved at heal). */
export function simScale(n: number, users: number, joins: number, seed = 1n): SimScalePoint {
  const started = performance.now();
  const moving = Math.min(10, users);
  // Mean one-way delay 40 ms (the default), no faults.
  const options = calmOptions(seed, n, users + joins);
  const world = new World(options);
  world.network.faults = false;
  world.boot();
  world.settle(SETTLE_MAX);
  world.users.slice(0, users).forEach((u, i) => u.connect(world.servers[i % n]!));
  world.settle(SETTLE_MAX);
  const times: number[] = [];
  const frames: number[] = [];
  for (let j = 0; j < joins; j++) {
    const user = world.users[users + j]!;
    const before = world.network.stats.server_messages;
    const t0 = world.scheduler.now;
    user.connect(world.servers[j % n]!);
    let reached = 0;
    while (world.stepOnce()) {
      if (reached === 0 && world.servers.every((s) => s.state.user_locations.has(user.id))) {
        reached = world.scheduler.now - t0;
      }
    }
    times.push(reached);
    frames.push(world.network.stats.server_messages - before);
  }
  const heal = partitionAndHeal(world, moving);
  times.sort((a, b) => a - b);
  return {
    servers: n,
    users: users + joins,
    join_frames: frames.reduce((a, b) => a + b, 0) / joins,
    join_ms_p50: times[Math.floor(times.length / 2)]!,
    join_ms_max: times[times.length - 1]!,
    ...heal,
    real_ms: Math.round(performance.now() - started),
  };
}

/** Cuts the last server off until its links time out, moves users meanwhile, heals, measures. */
function partitionAndHeal(
  world: World,
  moving: number,
): { heal_frames: number; heal_ms: number; resync_ms: number } {
  const { network, scheduler, servers } = world;
  const cut = servers[servers.length - 1]!;
  const others = servers.filter((s) => s !== cut);
  for (const other of others) network.partition(cut.id, other.id, 10 * LINK_TIMEOUT_MS);
  const until = scheduler.now + 2 * LINK_TIMEOUT_MS;
  // Users on the connected side move while the link is down: the digest must find them.
  const movers = world.users.filter((u) => u.connected && u.server !== cut).slice(0, moving);
  movers.forEach((u, i) => {
    if (u.leave()) u.connect(others[(i * 7 + 3) % others.length]!);
  });
  while (scheduler.now < until && world.stepOnce());
  const before = network.stats.server_messages;
  const healed = scheduler.now;
  network.healAll();
  let meshAt = 0;
  let convergedAt = 0;
  let checked = -1;
  while (world.stepOnce()) {
    if (convergedAt !== 0 || scheduler.now === checked) continue;
    if (meshAt === 0 && fullMesh(world)) meshAt = scheduler.now;
    if (meshAt !== 0 && converged(world)) convergedAt = scheduler.now;
    checked = scheduler.now;
  }
  if (convergedAt === 0 && converged(world)) convergedAt = scheduler.now;
  return {
    heal_frames: network.stats.server_messages - before,
    heal_ms: convergedAt - healed,
    resync_ms: convergedAt - meshAt,
  };
}

function fullMesh(world: World): boolean {
  const n = world.servers.length;
  return world.servers.every((s) => s.state.servers.size === n - 1);
}

function converged(world: World): boolean {
  try {
    checkConverged(world);
    return true;
  } catch (e) {
    if (e instanceof SimFailure) return false;
    throw e;
  }
}
