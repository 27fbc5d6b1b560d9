/**
 * Runs one seeded simulation from the command line:
 *
 *     deno run -A tests/sim/main.ts --seed 7 [--steps 3000] [--servers 4] [--users 9] [--rounds 2]
 *
 * Without `--seed` it picks a fresh one. It prints `SEED=<n>` first, then a summary, or the
 * broken invariant with the trace that led to it (exit code 1). The same seed replays the same
 * run, step for step; `--trace <lines>` keeps a longer trace (grep it for a user or a link).
 *
 *     deno run -A tests/sim/main.ts --seeds 1..1000
 *
 * runs a range of seeds (the VOPR's long runs) and lists the failing ones by invariant.
 * `--gossip all|none|mixed` sets which servers announce `gossip_direct` (else the seed picks).
 *
 * A heal may take at most `settleBudget` steps (sim_world.ts): a constant, plus 40 · n · c and
 * 20 · u · c for n servers and u users, where c = n + 2kn is what one gossip frame costs with k
 * servers without the flag (about n² with none), plus the chaos steps. Past that the run fails
 * as stuck: a liveness bug, not a slow seed. A sweep prints each seed's largest heal against it.
 * @module
 */
import { parseArgs } from "node:util";
import {
  reproduce,
  runSimulation,
  SimFailure,
  type SimOptions,
  simOptions,
  type SimReport,
} from "./sim_world.ts";

/** Parses the command line into the options of a run. */
export function optionsFromArgs(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      seed: { type: "string" },
      steps: { type: "string" },
      servers: { type: "string" },
      users: { type: "string" },
      rounds: { type: "string" },
      trace: { type: "string" },
      seeds: { type: "string" },
      gossip: { type: "string" },
    },
    strict: true,
  });
  const seed = values.seed !== undefined ? BigInt(values.seed) : freshSeed();
  const overrides: Parameters<typeof simOptions>[1] = {};
  if (values.steps !== undefined) overrides.steps = Number(values.steps);
  if (values.servers !== undefined) overrides.servers = Number(values.servers);
  if (values.users !== undefined) overrides.users = Number(values.users);
  if (values.rounds !== undefined) overrides.rounds = Number(values.rounds);
  if (values.trace !== undefined) overrides.trace_lines = Number(values.trace);
  if (values.gossip !== undefined) {
    if (!["all", "none", "mixed"].includes(values.gossip)) {
      throw new Error(`--gossip wants all, none or mixed, got ${values.gossip}`);
    }
    overrides.gossip_direct = values.gossip as SimOptions["gossip_direct"];
  }
  return { options: simOptions(seed, overrides), overrides, seeds: values.seeds };
}

/** Runs seeds `from..to`; prints the failures grouped by invariant; true when all passed. */
export function sweep(range: string, overrides: Parameters<typeof simOptions>[1]): boolean {
  const match = /^(\d+)\.\.(\d+)$/.exec(range);
  if (!match) throw new Error(`--seeds wants FROM..TO, got ${range}`);
  const [from, to] = [BigInt(match[1]!), BigInt(match[2]!)];
  const failures = new Map<string, bigint[]>();
  const started = performance.now();
  let closest = { ratio: 0, text: "" };
  for (let seed = from; seed <= to; seed++) {
    try {
      const began = performance.now();
      const r = runSimulation(simOptions(seed, overrides));
      const ratio = r.settle_steps / r.settle_budget;
      console.log(
        `SEED=${seed} ok in ${Math.round(performance.now() - began)} ms: ${r.servers} servers, ` +
          `${r.users} users, largest heal ${r.settle_steps} of ${r.settle_budget} steps`,
      );
      if (ratio >= closest.ratio) {
        closest = { ratio, text: `${r.settle_steps} of ${r.settle_budget} steps (seed ${seed})` };
      }
    } catch (e) {
      if (!(e instanceof SimFailure)) throw e;
      // Ids differ from seed to seed; the shape of the invariant groups them.
      const kind = e.invariant.replace(/\bs\d+-[0-9a-f]{4}\b/g, "S").replace(/\bu\d+\b/g, "U")
        .replace(/\bc\d+\b/g, "C").replace(/\bm\d+\b/g, "M").slice(0, 160);
      failures.set(kind, [...failures.get(kind) ?? [], seed]);
      console.log(`SEED=${seed} FAILED at step ${e.step} (${e.phase}): ${e.invariant}`);
    }
  }
  for (const [kind, seeds] of failures) {
    console.log(`${seeds.length} x ${kind}\n    seeds ${seeds.slice(0, 10).join(", ")}`);
  }
  const n = to - from + 1n;
  const failed = [...failures.values()].reduce((sum, seeds) => sum + seeds.length, 0);
  console.log(
    `${n - BigInt(failed)}/${n} seeds passed in ${Math.round(performance.now() - started)} ms; ` +
      `largest heal against its budget: ${closest.text}`,
  );
  return failed === 0;
}

/** A random seed below 2^53, so that it prints and parses everywhere. */
export function freshSeed(): bigint {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return BigInt(hi! & 0x1fffff) * 2n ** 32n + BigInt(lo!);
}

/** The fault menu a seed picked, in one line. */
export function menu(options: SimOptions): string {
  const n = options.network;
  return `faults: loss ${n.packet_loss_probability}, replay ${n.packet_replay_probability}, ` +
    `partition ${n.partition_probability}, clog ${n.path_clog_probability}, ` +
    `break ${n.link_break_probability}; delay mean ${n.one_way_delay_mean_ms} ms; ` +
    `users think ${options.user_think_mean_ms} ms, leave ${options.user_leave_probability}; ` +
    `gossip_direct: ${options.gossip_direct}`;
}

/** One line per run. */
export function summary(r: SimReport): string {
  const n = r.network;
  return `ok: ${r.servers} servers, ${r.users} users, ${r.steps} steps, ${
    Math.round(r.virtual_ms / 1000)
  } s virtual, largest settle ${r.settle_steps}/${r.settle_budget} steps; DMs ${r.messages_delivered}/${r.messages_sent} delivered (${r.probes} probes); ` +
    `net: ${n.messages} msgs, ${n.replays} replays, ${n.losses} losses, ${n.cuts} cuts, ` +
    `${n.partitions} partitions, ${n.clogs} clogs, ${n.timeouts} timeouts`;
}

if (import.meta.main) {
  const { options, overrides, seeds } = optionsFromArgs(Deno.args);
  if (seeds !== undefined) Deno.exit(sweep(seeds, overrides) ? 0 : 1);
  console.log(`SEED=${options.seed}`);
  console.log(menu(options));
  const started = performance.now();
  try {
    const report = runSimulation(options);
    console.log(summary(report));
    const counters = [...report.counters].sort(([a], [b]) => a.localeCompare(b));
    for (const [what, n] of counters) console.log(`  ${String(n).padStart(7)}  ${what}`);
    console.log(`${Math.round(performance.now() - started)} ms real`);
  } catch (e) {
    if (!(e instanceof SimFailure)) throw e;
    console.log(`trace (last ${e.trace.length} lines):`);
    for (const line of e.trace) console.log(`  ${line}`);
    console.log(`FAILED at step ${e.step} (${e.phase}): ${e.invariant}`);
    console.log(`SEED=${options.seed}`);
    console.log(`reproduce: ${reproduce(options)}`);
    Deno.exit(1);
  }
}
