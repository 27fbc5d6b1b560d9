/**
 * The benchmark scenarios, over real server processes and sockets on loopback. Each
 * returns a {@linkcode Result}: throughput, p50/p99 latency, and the ratio to the RSA sign
 * ceiling measured in the same run, with where the CPU went (`proc.ts`). Every load loop is
 * bounded in count and in time.
 * @module
 */
import { describeCryptoLibrary } from "../actors/ops/status.ts";
import type { Ceiling } from "./ceiling.ts";
import WebSocket from "ws";
import {
  type BenchServer,
  collectGarbage,
  metrics,
  settle,
  startBenchServer,
  startMesh,
  status,
  stopAll,
  sum,
  until,
} from "./cluster.ts";
import { connectUsers, Deliveries, LoadUser, randomBlock } from "./loadgen.ts";
import {
  type CpuPerUnit,
  type CpuReport,
  cpuWindow,
  percentile,
  round,
  rssByKind,
  rssBytes,
} from "./proc.ts";
import { summarizeProfiles } from "./profile.ts";

/** One line of `bench/results.json`. */
export interface Result {
  name: string;
  throughput_per_s: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  limit_per_s: number | null;
  ratio_to_limit: number | null;
  /** What throughput counts. */
  unit?: string;
  /** The target, in words, and whether this run met it (null: no target). */
  target?: string;
  /** For a target on `ratio_to_limit`: the least ratio that meets it. */
  target_ratio?: number;
  met?: boolean | null;
  /**
   * How good this figure is, higher better, for scenarios run in rounds: the round with the
   * median merit is the one reported.
   */
  merit?: number;
  cpu?: CpuReport;
  /** `cpu` per unit of throughput in its window. */
  cpu_ms_per_unit?: CpuPerUnit;
  details?: Record<string, unknown>;
}

/** What every scenario gets. */
export interface BenchContext {
  smoke: boolean;
  ceiling: Ceiling;
  /** Directory for `--cpu-prof` output, when profiling. */
  profileDir?: string;
  log: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deno flags for servers of scenario `tag` when profiling. */
function profFlags(ctx: BenchContext, tag: string): string[] {
  return ctx.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${ctx.profileDir}/${tag}`] : [];
}

/**
 * Ends a scenario: closes its users, stops its servers, and (with --profile) logs the summary of
 * the profiles they wrote on exit.
 */
async function tearDown(
  ctx: BenchContext,
  tag: string,
  servers: BenchServer[],
  users: LoadUser[],
): Promise<void> {
  for (const u of users) u.terminate();
  await stopAll(servers);
  if (!ctx.profileDir) return;
  try {
    const prof = (await summarizeProfiles(`${ctx.profileDir}/${tag}`, 15)).map((p) => ({
      total_ms: p.total_ms,
      top: p.entries.map((e) => `${e.self_pct}% ${e.fn}`),
    }));
    ctx.log(`  profile (${tag}): ${JSON.stringify(prof, null, 1)}`);
  } catch {
    // No profile written (a server died): the scenario's own error says why.
  }
}

function latencyFields(latencies: number[]) {
  return {
    p50_ms: latencies.length ? round(percentile(latencies, 50), 2) : null,
    p99_ms: latencies.length ? round(percentile(latencies, 99), 2) : null,
  };
}

/** Races `p` against a timeout (resolves either way). */
function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<void>((r) => timer = setTimeout(r, ms))]).finally(() =>
    clearTimeout(timer)
  );
}

interface LoopOptions {
  warmupMs: number;
  measureMs: number;
  /** Messages in flight per sender. */
  inFlight: number;
  /** Hard bound on messages sent. */
  maxMessages: number;
}

/**
 * Closed loop: each sender keeps `inFlight` messages outstanding (sending the next when one is
 * delivered) until the window ends. Returns deliveries/s inside the window and latencies of
 * messages sent inside it.
 */
async function closedLoop(
  senders: { user: LoadUser; send: (user: LoadUser) => string[] }[],
  deliveries: Deliveries,
  o: LoopOptions,
): Promise<{ throughput: number; latencies: number[]; sent: number; cpuEnd: () => CpuReport }> {
  const start = performance.now();
  const from = start + o.warmupMs;
  const to = from + o.measureMs;
  deliveries.measure(from, to);
  let sent = 0;
  let cpu: { end(): CpuReport } | undefined;
  let report: CpuReport | undefined;
  const loop = async (s: (typeof senders)[number]) => {
    while (performance.now() < to && sent < o.maxMessages && s.user.isOpen) {
      const tokens = s.send(s.user);
      sent += tokens.length;
      await within(Promise.all(tokens.map((t) => deliveries.expect(t))).then(() => {}), 30_000);
    }
  };
  const loops = senders.flatMap((s) => Array.from({ length: o.inFlight }, () => loop(s)));
  // CPU is accounted over the measuring window only.
  const windowTimers = [
    setTimeout(() => cpu = currentCpu(), Math.max(0, from - performance.now())),
    setTimeout(() => report = cpu?.end(), Math.max(0, to - performance.now())),
  ];
  await Promise.all(loops);
  windowTimers.forEach(clearTimeout);
  report ??= cpu?.end();
  deliveries.abandon();
  return {
    throughput: deliveries.inWindow / (o.measureMs / 1000),
    latencies: deliveries.latencies,
    sent,
    cpuEnd: () => report!,
  };
}

let currentPids: () => number[] = () => [];
const currentCpu = () => cpuWindow(currentPids);

function track(servers: BenchServer[]): void {
  currentPids = () => servers.map((s) => s.pid);
}

/** DM deliveries of `users`, wired to `deliveries`. */
function wireDeliveries(users: LoadUser[], deliveries: Deliveries, types: string[]): void {
  const accept = new Set(types);
  for (const u of users) {
    u.onFrame = (f) => {
      if (accept.has(f.type)) deliveries.arrived(f);
    };
  }
}

/** Per frame type, how much `family` (e.g. `socp_frames_sent_total`) grew, summed over servers. */
function typeDeltas(
  before: Map<string, number>[],
  after: Map<string, number>[],
  family: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  after.forEach((m, i) => {
    for (const [k, v] of m) {
      if (!k.startsWith(`${family}{`)) continue;
      const d = v - (before[i]!.get(k) ?? 0);
      if (d === 0) continue;
      const label = k.slice(family.length + 1, -1).replace(/^\w+="(.*)"$/, "$1");
      out[label] = (out[label] ?? 0) + d;
    }
  });
  return Object.fromEntries(Object.entries(out).sort());
}

/** Adds the samples of `from` into `into`. */
function mergeInto(into: Map<string, number>, from: Map<string, number>): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function pickOther(users: LoadUser[], self: LoadUser): LoadUser {
  for (;;) {
    const other = users[Math.floor(Math.random() * users.length)]!;
    if (other !== self || users.length === 1) return other;
  }
}

/** Waits until every server knows `expected` remote users (advertises have spread). */
async function awaitDirectory(servers: BenchServer[], expected: (i: number) => number) {
  await until("user directory to spread", 120_000, async () => {
    const all = await Promise.all(servers.map(metrics));
    return all.every((m, i) => m.get("socp_users_remote") === expected(i));
  });
}

// ---------------------------------------------------------------------------------------------
// (a) and (a'): local DMs, one server

/**
 * (a)'s closed loop. One DM in flight per user keeps both signing threads busy (about 100 ms of
 * work queued); two per user measured the same DMs/s, with twice the latency and more live data
 * for the GC to copy.
 */
const LOCAL_LOOP: LoopOptions = {
  warmupMs: 3000,
  measureMs: 15_000,
  inFlight: 1,
  maxMessages: 50_000,
};

/** (a) local DMs at maximum throughput, and (a') p99 at 50 % of that throughput. */
export async function localDm(ctx: BenchContext): Promise<Result[]> {
  const n = ctx.smoke ? 10 : 100;
  const loop: LoopOptions = ctx.smoke
    ? { warmupMs: 300, measureMs: 1000, inFlight: 1, maxMessages: 2_000 }
    : LOCAL_LOOP;
  const server = await startBenchServer({ key: "server1", denoFlags: profFlags(ctx, "a") });
  track([server]);
  const users: LoadUser[] = [];
  try {
    users.push(...await connectUsers([server.url], n));
    await settle([server]);
    const before = await metrics(server);
    const deliveries = new Deliveries();
    wireDeliveries(users, deliveries, ["USER_DELIVER"]);
    ctx.log(`  (a) ${n} users, ${loop.inFlight} DMs in flight each, ${loop.measureMs / 1000} s`);
    const run = await closedLoop(
      users.map((user) => ({ user, send: (u) => [u.dm(pickOther(users, u).id)] })),
      deliveries,
      loop,
    );
    await settle([server], 30_000, 200);
    const after = await metrics(server);
    const signs = sum(after, 'socp_crypto_ops_total{op="sign"}') -
      sum(before, 'socp_crypto_ops_total{op="sign"}');
    const delivered = sum(after, 'socp_frames_sent_total{type="USER_DELIVER"}') -
      sum(before, 'socp_frames_sent_total{type="USER_DELIVER"}');
    const limit = ctx.ceiling.signs_per_s;
    const max: Result = {
      name: "a: local DM, max throughput",
      unit: `DMs delivered/s (${n} users on 1 server; 1 sign each)`,
      throughput_per_s: round(run.throughput, 1),
      ...latencyFields(run.latencies),
      limit_per_s: round(limit, 1),
      ratio_to_limit: round(run.throughput / limit, 3),
      target: "≥ 0.75 of the all-core sign ceiling",
      target_ratio: 0.75,
      met: run.throughput / limit >= 0.75,
      merit: run.throughput / limit,
      cpu: run.cpuEnd(),
      details: {
        users: n,
        in_flight: n * loop.inFlight,
        signs_per_delivery: delivered ? round(signs / delivered, 3) : null,
        libcrypto: await signingLibrary(server),
        frames_sent: typeDeltas([before], [after], "socp_frames_sent_total"),
        drops: typeDeltas([before], [after], "socp_frames_dropped_total"),
      },
    };

    // (a'): open loop at half the measured maximum.
    const rate = Math.max(1, run.throughput / 2);
    const half = await openLoop(users, rate, ctx.smoke ? 300 : 2000, loop.measureMs, ctx);
    const third: Result = {
      name: "a': local DM at 50 % of max throughput",
      unit: "DMs delivered/s (open loop, evenly spaced sends)",
      throughput_per_s: round(half.throughput, 1),
      ...latencyFields(half.latencies),
      limit_per_s: round(limit, 1),
      ratio_to_limit: round(half.throughput / limit, 3),
      target: "p99 ≤ 25 ms",
      met: half.latencies.length > 0 && percentile(half.latencies, 99) <= 25,
      merit: -percentile(half.latencies, 99),
      cpu: half.cpu,
      details: { offered_per_s: round(rate, 1), p90_ms: round(percentile(half.latencies, 90), 2) },
    };
    return [max, third];
  } finally {
    await tearDown(ctx, "a", [server], users);
  }
}

/** Open loop: DMs between random users at `rate`/s, evenly spaced. */
async function openLoop(
  users: LoadUser[],
  rate: number,
  warmupMs: number,
  measureMs: number,
  ctx: BenchContext,
): Promise<{ throughput: number; latencies: number[]; cpu: CpuReport }> {
  const deliveries = new Deliveries();
  wireDeliveries(users, deliveries, ["USER_DELIVER"]);
  const start = performance.now();
  const from = start + warmupMs;
  const to = from + measureMs;
  deliveries.measure(from, to);
  ctx.log(`  (a') open loop at ${rate.toFixed(1)} DMs/s for ${measureMs / 1000} s`);
  let sent = 0;
  let cpu: { end(): CpuReport } | undefined;
  const max = Math.ceil((rate * (warmupMs + measureMs)) / 1000) + 1;
  const waits: Promise<void>[] = [];
  while (performance.now() < to && sent < max) {
    if (cpu === undefined && performance.now() >= from) cpu = currentCpu();
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    while (sent < due && sent < max) {
      const sender = users[Math.floor(Math.random() * users.length)]!;
      waits.push(deliveries.expect(sender.dm(pickOther(users, sender).id)));
      sent++;
    }
    await sleep(1);
  }
  const report = (cpu ?? currentCpu()).end();
  await within(Promise.all(waits).then(() => {}), 30_000);
  deliveries.abandon();
  return {
    throughput: deliveries.inWindow / (measureMs / 1000),
    latencies: deliveries.latencies,
    cpu: report,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) cross-server DMs in a 3-server mesh

export async function crossServerDm(ctx: BenchContext): Promise<Result[]> {
  const perServer = ctx.smoke ? 3 : 30;
  const loop: LoopOptions = ctx.smoke
    ? { warmupMs: 300, measureMs: 1000, inFlight: 1, maxMessages: 2_000 }
    : { warmupMs: 3000, measureMs: 15_000, inFlight: 2, maxMessages: 50_000 };
  const servers = await startMesh(3, { denoFlags: profFlags(ctx, "b") });
  track(servers);
  const users: LoadUser[] = [];
  try {
    users.push(...await connectUsers(servers.map((s) => s.url), perServer * 3));
    await awaitDirectory(servers, () => perServer * 2);
    await settle(servers);
    const home = new Map(users.map((u, i) => [u, i % 3]));
    const deliveries = new Deliveries();
    wireDeliveries(users, deliveries, ["USER_DELIVER"]);
    const before = await Promise.all(servers.map(metrics));
    ctx.log(`  (b) 3 servers × ${perServer} users, DMs to users on other servers`);
    const run = await closedLoop(
      users.map((user) => ({
        user,
        send: (u) => {
          let to = pickOther(users, u);
          while (home.get(to) === home.get(u)) to = pickOther(users, u);
          return [u.dm(to.id)];
        },
      })),
      deliveries,
      loop,
    );
    await settle(servers, 30_000, 200);
    const after = await Promise.all(servers.map(metrics));
    const d = (key: string) => after.reduce((s, m, i) => s + sum(m, key) - sum(before[i]!, key), 0);
    const limit = ctx.ceiling.signs_per_s / 2;
    return [{
      name: "b: cross-server DM, 3-server mesh",
      unit: "DMs delivered/s (2 signs each: SERVER_DELIVER + USER_DELIVER)",
      throughput_per_s: round(run.throughput, 1),
      ...latencyFields(run.latencies),
      limit_per_s: round(limit, 1),
      ratio_to_limit: round(run.throughput / limit, 3),
      target: "≥ 0.65 of half the sign ceiling",
      target_ratio: 0.65,
      met: run.throughput / limit >= 0.65,
      merit: run.throughput / limit,
      cpu: run.cpuEnd(),
      details: {
        users: users.length,
        in_flight: users.length * loop.inFlight,
        signs_per_delivery: round(
          d('socp_crypto_ops_total{op="sign"}') /
            Math.max(1, d('socp_frames_sent_total{type="USER_DELIVER"}')),
          3,
        ),
        libcrypto: await signingLibrary(servers[0]!),
        frames_sent: typeDeltas(before, after, "socp_frames_sent_total"),
        drops: typeDeltas(before, after, "socp_frames_dropped_total"),
      },
    }];
  } finally {
    await tearDown(ctx, "b", servers, users);
  }
}

// ---------------------------------------------------------------------------------------------
// (c) public channel, 50 users over 3 servers

export async function publicChannel(ctx: BenchContext): Promise<Result[]> {
  const n = ctx.smoke ? 6 : 50;
  const loop: LoopOptions = ctx.smoke
    ? { warmupMs: 300, measureMs: 1000, inFlight: 1, maxMessages: 5_000 }
    : { warmupMs: 3000, measureMs: 15_000, inFlight: 1, maxMessages: 200_000 };
  const servers = await startMesh(3, { denoFlags: profFlags(ctx, "c") });
  track(servers);
  const users: LoadUser[] = [];
  try {
    users.push(...await connectUsers(servers.map((s) => s.url), n));
    const perServer = [0, 1, 2].map((s) => users.filter((_, i) => i % 3 === s).length);
    await awaitDirectory(servers, (i) => n - perServer[i]!);
    await settle(servers);
    const deliveries = new Deliveries();
    wireDeliveries(users, deliveries, ["MSG_PUBLIC_CHANNEL"]);
    // Signs per delivery: a copy to a user on another server is wrapped in a signed
    // SERVER_DELIVER; a copy to a local user is relayed unchanged (our client sends one
    // MSG_PUBLIC_CHANNEL per member, each encrypted for that member, §15 P11).
    let remote = 0;
    for (let i = 0; i < n; i++) remote += n - perServer[i % 3]!;
    const signsPerDelivery = remote / (n * (n - 1));
    const limit = ctx.ceiling.signs_per_s / signsPerDelivery;
    ctx.log(`  (c) ${n} users over 3 servers (${perServer.join("/")}), each posting to all`);
    const before = await Promise.all(servers.map(metrics));
    const run = await closedLoop(
      users.map((user) => ({
        user,
        send: (u) => users.filter((m) => m !== u).map((m) => u.publicTo(m.id)),
      })),
      deliveries,
      loop,
    );
    await settle(servers, 30_000, 200);
    const after = await Promise.all(servers.map(metrics));
    return [{
      name: "c: public channel, 50 users over 3 servers",
      unit: `copies delivered/s (one MSG_PUBLIC_CHANNEL per member; ${
        round(signsPerDelivery, 3)
      } signs each)`,
      throughput_per_s: round(run.throughput, 1),
      ...latencyFields(run.latencies),
      limit_per_s: round(limit, 1),
      ratio_to_limit: round(run.throughput / limit, 3),
      target: "none (reported)",
      met: null,
      cpu: run.cpuEnd(),
      details: {
        users: n,
        posts_per_s: round(run.throughput / (n - 1), 2),
        in_flight: n * (n - 1),
        signs_per_delivery_measured: round(
          (sum(
            after.reduce((m, x) => (mergeInto(m, x), m), new Map()),
            'socp_crypto_ops_total{op="sign"}',
          ) -
            sum(
              before.reduce((m, x) => (mergeInto(m, x), m), new Map()),
              'socp_crypto_ops_total{op="sign"}',
            )) /
            Math.max(1, deliveries.delivered),
          3,
        ),
        per_server: perServer,
        frames_sent: typeDeltas(before, after, "socp_frames_sent_total"),
        drops: typeDeltas(before, after, "socp_frames_dropped_total"),
      },
    }];
  } finally {
    await tearDown(ctx, "c", servers, users);
  }
}

// ---------------------------------------------------------------------------------------------
// (d) a 1 MiB file across 2 servers

export async function fileTransfer(ctx: BenchContext): Promise<Result[]> {
  const bytes = ctx.smoke ? 64 * 1024 : 1024 * 1024;
  const CHUNK = 446;
  const WINDOW = 64; // FILE_WINDOW_CHUNKS
  const chunks = Math.ceil(bytes / CHUNK);
  const servers = await startMesh(2, { denoFlags: profFlags(ctx, "d") });
  track(servers);
  const users: LoadUser[] = [];
  try {
    users.push(...await connectUsers(servers.map((s) => s.url), 2));
    const [sender, receiver] = users as [LoadUser, LoadUser];
    await awaitDirectory(servers, () => 1);
    await settle(servers);
    const file_id = crypto.randomUUID();
    const got = new Set<number>();
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    let ended = Promise.withResolvers<void>();
    let progressed = () => {};
    receiver.onFrame = (f) => {
      if (f.type === "FILE_CHUNK" && f.payload?.file_id === file_id) {
        const index = Number(f.payload.index);
        if (!got.has(index)) {
          got.add(index);
          latencies.push(performance.now() - sentAt.get(index)!);
          progressed();
        }
      } else if (f.type === "FILE_END" && f.payload?.file_id === file_id) ended.resolve();
    };
    const before = await Promise.all(servers.map(metrics));
    ctx.log(`  (d) ${bytes} bytes in ${chunks} chunks, A → B, window ${WINDOW}`);
    const cpu = currentCpu();
    const start = performance.now();
    const deadline = start + (ctx.smoke ? 30_000 : 120_000);
    sender.send("FILE_START", receiver.id, {
      file_id,
      name: "bench.bin",
      size: bytes,
      sha256: "0".repeat(64),
      mode: "dm",
      sender_pub: sender.spki,
      content_sig: sender.contentSig,
    });
    for (let index = 0; index < chunks && performance.now() < deadline; index++) {
      while (index - got.size >= WINDOW && performance.now() < deadline) {
        await within(new Promise<void>((r) => progressed = r), 1000);
      }
      sentAt.set(index, performance.now());
      sender.send("FILE_CHUNK", receiver.id, { file_id, index, ciphertext: randomBlock() });
    }
    while (got.size < chunks && performance.now() < deadline) {
      await within(new Promise<void>((r) => progressed = r), 1000);
    }
    sender.send("FILE_END", receiver.id, { file_id });
    await within(ended.promise, 10_000);
    ended = Promise.withResolvers<void>();
    const seconds = (performance.now() - start) / 1000;
    const report = cpu.end();
    await settle(servers, 30_000, 200);
    const after = await Promise.all(servers.map(metrics));
    const signs = servers.map((_, i) =>
      sum(after[i]!, 'socp_crypto_ops_total{op="sign"}') -
      sum(before[i]!, 'socp_crypto_ops_total{op="sign"}')
    );
    const rate = got.size / seconds;
    const limit = ctx.ceiling.signs_per_s;
    return [{
      name: "d: 1 MiB file across 2 servers",
      unit: "chunks/s (446 B each; 1 sign per chunk, at the sending server)",
      throughput_per_s: round(rate, 1),
      ...latencyFields(latencies),
      limit_per_s: round(limit, 1),
      ratio_to_limit: round(rate / limit, 3),
      target: "none (reported)",
      met: null,
      cpu: report,
      details: {
        bytes,
        chunks,
        delivered: got.size,
        seconds: round(seconds, 2),
        kib_per_s: round(bytes / 1024 / seconds, 1),
        signs_per_server: signs,
        signs_per_chunk_measured: round(
          signs.reduce((a, b) => a + b, 0) / Math.max(1, got.size),
          3,
        ),
        frames_sent: typeDeltas(before, after, "socp_frames_sent_total"),
        drops: typeDeltas(before, after, "socp_frames_dropped_total"),
      },
    }];
  } finally {
    await tearDown(ctx, "d", servers, users);
  }
}

// ---------------------------------------------------------------------------------------------
// (e) memory per idle connection

export async function idleMemory(
  ctx: BenchContext,
  target = ctx.smoke ? 100 : 5000,
): Promise<Result[]> {
  // 5 000 users cost 25 M USER_ADVERTISE frames (each newcomer hears of everyone, everyone of
  // each newcomer): about 11 minutes on 2 cores.
  const budgetMs = ctx.smoke ? 60_000 : 900_000;
  const server = await startBenchServer({
    key: "server1",
    limits: { connections_per_ip: target + 1000 },
    denoFlags: profFlags(ctx, "e"),
    exposeGc: true,
  });
  track([server]);
  const users: LoadUser[] = [];
  try {
    await settle([server]);
    await sleep(1000);
    const heap0 = await collectGarbage(server);
    const baseline = rssBytes(server.pid);

    // Bare sockets (no USER_HELLO): what a connection costs before it is a user.
    const bare = ctx.smoke ? 20 : 200;
    const sockets = await openBareSockets(server.url, bare);
    await sleep(500);
    const bareBytes = (rssBytes(server.pid) - baseline) / bare;
    for (const socket of sockets) socket.terminate();
    await settle([server]);
    await sleep(500);
    const baselineUsers = rssBytes(server.pid);
    const kinds0 = rssByKind(server.pid);
    const before = await metrics(server);

    ctx.log(`  (e) connecting ${target} idle users (budget ${budgetMs / 1000} s)`);
    const cpu = currentCpu();
    const start = performance.now();
    const steps: { users: number; seconds: number; rss_mib: number; signs: number }[] = [];
    const step = ctx.smoke ? 50 : 500;
    let stoppedBy: string | undefined;
    while (users.length < target && performance.now() - start < budgetMs) {
      let batch: LoadUser[];
      try {
        batch = await connectUsers([server.url], Math.min(step, target - users.length), {
          parse: false,
          offset: users.length,
          parallel: 16,
          timeoutMs: 120_000,
        });
      } catch (e) {
        stoppedBy = `after ${users.length} users: ${e instanceof Error ? e.message : e}`;
        ctx.log(`    stopped ${stoppedBy}`);
        break;
      }
      users.push(...batch);
      const m = await metrics(server);
      steps.push({
        users: users.length,
        seconds: round((performance.now() - start) / 1000, 1),
        rss_mib: round(rssBytes(server.pid) / 2 ** 20, 1),
        signs: sum(m, 'socp_crypto_ops_total{op="sign"}') -
          sum(before, 'socp_crypto_ops_total{op="sign"}'),
      });
      const last = steps.at(-1)!;
      ctx.log(
        `    ${last.users} users after ${last.seconds} s, RSS ${last.rss_mib} MiB, ${last.signs} signs`,
      );
    }
    if (users.length < target && stoppedBy === undefined) {
      stoppedBy = `time budget of ${budgetMs / 1000} s spent after ${users.length} users`;
    }
    const joinSeconds = (performance.now() - start) / 1000;
    try {
      // Idle means every queued advertise delivered: a join storm leaves millions queued.
      await settle([server], Math.max(300_000, budgetMs - (performance.now() - start)), 1000);
    } catch (e) {
      stoppedBy = `${stoppedBy ?? ""}; did not settle: ${e instanceof Error ? e.message : e}`;
    }
    const settledSeconds = (performance.now() - start) / 1000;
    const report = cpu.end();
    await sleep(2000);
    const rssRaw = rssBytes(server.pid);
    const after = await metrics(server);
    // The join burst leaves garbage (every join sends an advertise to every user); a full GC
    // shows what the idle users really hold.
    await collectGarbage(server);
    // V8 gives back the heap a storm made it grow only after some idle time (its memory
    // reducer), so the reading waits, then collects again.
    await sleep(ctx.smoke ? 500 : 30_000);
    const heap1 = await collectGarbage(server);
    await sleep(500);
    const rss = rssBytes(server.pid);
    const kinds = rssByKind(server.pid);
    const d = (key: string) => sum(after, key) - sum(before, key);
    const perConnection = (rss - baselineUsers) / users.length;
    const received = users.reduce((s, u) => s + u.received, 0);
    return [{
      name: "e: memory per idle connection",
      unit: "bytes of server RSS per connected idle user (after a forced GC)",
      throughput_per_s: null,
      p50_ms: null,
      p99_ms: null,
      limit_per_s: null,
      ratio_to_limit: null,
      target: "≤ 64 KiB per connection (5 000 users)",
      met: users.length >= 5000 ? perConnection <= 64 * 1024 : false,
      cpu: report,
      details: {
        users: users.length,
        users_target: target,
        ...(stoppedBy ? { stopped_by: stoppedBy } : {}),
        bytes_per_connection: Math.round(perConnection),
        kib_per_connection: round(perConnection / 1024, 1),
        kib_per_connection_before_gc: round((rssRaw - baselineUsers) / users.length / 1024, 1),
        js_heap_kib_per_connection: round((heap1.used - heap0.used) / users.length / 1024, 1),
        js_heap_committed_kib_per_connection: round(
          (heap1.total - heap0.total) / users.length / 1024,
          1,
        ),
        bare_socket_kib: round(bareBytes / 1024, 1),
        rss_baseline_mib: round(baselineUsers / 2 ** 20, 1),
        rss_after_mib: round(rss / 2 ** 20, 1),
        rss_after_before_gc_mib: round(rssRaw / 2 ** 20, 1),
        // Where the RSS after the GC grew, per connection, by kind of memory.
        rss_kib_per_connection_by_kind: {
          c_heap: round((kinds.heap - kinds0.heap) / users.length / 1024, 1),
          anonymous_v8: round((kinds.anon - kinds0.anon) / users.length / 1024, 1),
          files: round((kinds.file - kinds0.file) / users.length / 1024, 1),
        },
        join_seconds: round(joinSeconds, 1),
        settle_seconds: round(settledSeconds, 1),
        steps,
        frames_to_users: received,
        frames_sent: typeDeltas([before], [after], "socp_frames_sent_total"),
        public_channel_rekeys: d("socp_public_channel_version"),
        rekey_oaep_encrypts: d('socp_crypto_ops_total{op="encrypt"}'),
        rekey_oaep_seconds: round(d('socp_crypto_op_duration_seconds_sum{op="encrypt"}'), 2),
        signs: d('socp_crypto_ops_total{op="sign"}'),
      },
    }];
  } finally {
    await tearDown(ctx, "e", [server], users);
  }
}

/** Opens `n` WebSockets that never say hello. */
async function openBareSockets(url: string, n: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    sockets.push(socket);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
  }
  return sockets;
}

// ---------------------------------------------------------------------------------------------
// (g) a user join reaching every server of a mesh

export async function joinPropagation(
  ctx: BenchContext,
  n: number,
  joins: number,
): Promise<Result[]> {
  const servers = await startMesh(n, { denoFlags: profFlags(ctx, `g${n}`) });
  track(servers);
  const users: LoadUser[] = [];
  try {
    // One observer per server: it hears of each newcomer by USER_ADVERTISE.
    const observers = await connectUsers(servers.map((s) => s.url), n);
    users.push(...observers);
    await awaitDirectory(servers, () => n - 1);
    await settle(servers);
    const waiting = new Map<string, (observer: LoadUser) => void>();
    for (const o of observers) {
      o.onFrame = (f) => {
        if (f.type === "USER_ADVERTISE") waiting.get(f.payload?.user_id)?.(o);
      };
    }
    ctx.log(`  (g) ${joins} joins into a ${n}-server mesh`);
    const times: number[] = [];
    const frames: number[] = [];
    const byType = new Map<string, number>();
    for (let j = 0; j < joins; j++) {
      const home = j % n;
      const id = crypto.randomUUID();
      const heard = new Set<LoadUser>();
      const all = Promise.withResolvers<void>();
      const start = performance.now();
      let reached = 0;
      waiting.set(id, (o) => {
        if (o === observers[home] || heard.has(o)) return;
        heard.add(o);
        if (heard.size === n - 1) {
          reached = performance.now() - start;
          all.resolve();
        }
      });
      const before = await Promise.all(servers.map(metrics));
      const user = await LoadUser.connect({ url: servers[home]!.url, index: 1000 + j, id });
      users.push(user);
      await within(all.promise, 30_000);
      if (reached === 0) throw new Error(`join ${j} did not reach all ${n} servers in 30 s`);
      times.push(reached);
      // Count the frames the join caused, once the public-channel rekey is done too.
      await settle(servers, 30_000, 400);
      const after = await Promise.all(servers.map(metrics));
      let total = 0;
      after.forEach((m, i) => {
        for (const [k, v] of m) {
          if (!k.startsWith("socp_frames_received_total") || k.includes('"HEARTBEAT"')) continue;
          const dv = v - (before[i]!.get(k) ?? 0);
          if (dv === 0) continue;
          total += dv;
          const type = k.replace(/^.*type="(.*)"\}$/, "$1");
          byType.set(type, (byType.get(type) ?? 0) + dv);
        }
      });
      frames.push(total);
    }
    const perJoin = Object.fromEntries(
      [...byType].sort().map(([k, v]) => [k, round(v / joins, 1)]),
    );
    return [{
      name: `g: user join reaching every server (${n}-server mesh)`,
      unit: "ms until the last other server's observer heard USER_ADVERTISE",
      throughput_per_s: null,
      ...latencyFields(times),
      limit_per_s: null,
      ratio_to_limit: null,
      target: "none (reported)",
      met: null,
      details: {
        servers: n,
        joins,
        frames_received_per_join: round(frames.reduce((a, b) => a + b, 0) / joins, 1),
        frames_received_per_join_by_type: perJoin,
        max_ms: round(Math.max(...times), 1),
      },
    }];
  } finally {
    await tearDown(ctx, `g${n}`, servers, users);
  }
}

/** The server ids and links of a mesh (for debugging a scenario). */
export async function describeMesh(servers: BenchServer[]): Promise<string> {
  const all = await Promise.all(servers.map(status));
  return all.map((s) => `${s.server_id}: ${s.servers.filter((p) => p.linked).length} linked`).join(
    "; ",
  );
}

/** "OpenSSL 3.5.7 (path, origin)": what a bench server signs with, from its /status. */
async function signingLibrary(server: BenchServer): Promise<string> {
  const crypto = (await status(server)).crypto;
  return crypto === undefined ? "unknown" : describeCryptoLibrary(crypto);
}
