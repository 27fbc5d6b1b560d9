// Goal: a scenario run in rounds reports its median round, the lower middle of an even count,
// and keeps every round's figures; a round is judged against the mean of the limits that bracket
// it; where a round's CPU went is given per unit of its work.
import assert from "node:assert/strict";
import { againstMean, medianRound } from "./main.ts";
import { cpuPerUnit, type CpuReport } from "./proc.ts";
import type { Result } from "./scenarios.ts";

const result = (name: string, ratio: number, p99: number): Result => ({
  name,
  throughput_per_s: ratio * 1000,
  p50_ms: 1,
  p99_ms: p99,
  limit_per_s: 1000,
  ratio_to_limit: ratio,
  merit: name === "a'" ? -p99 : ratio,
});

Deno.test("medianRound reports each result's median round by its own merit", () => {
  const rounds = [
    [result("a", 0.70, 30), result("a'", 0.35, 30)],
    [result("a", 0.80, 10), result("a'", 0.40, 10)],
    [result("a", 0.76, 40), result("a'", 0.38, 20)],
  ];
  const [a, half] = medianRound(rounds);
  assert.equal(a!.ratio_to_limit, 0.76);
  assert.equal(half!.p99_ms, 20);
  assert.deepEqual(
    (a!.details!.rounds as { ratio: number }[]).map((r) => r.ratio),
    [0.70, 0.80, 0.76],
  );
  rounds[0]![0]!.details = { slowed: true };
  assert.deepEqual(
    (medianRound(rounds)[0]!.details!.rounds as { slowed: boolean }[]).map((r) => r.slowed),
    [true, false, false],
  );
  assert.equal(medianRound(rounds.slice(0, 2))[0]!.ratio_to_limit, 0.70);
  assert.deepEqual(medianRound([rounds[1]!]), rounds[1]);
});

Deno.test("againstMean judges a round against the mean of the limits read before and after it", () => {
  const a = { ...result("a", 0.74, 20), target_ratio: 0.75, met: false };
  // The machine slowed from 1 000 to 960 signs/s during the round: the limit was about 980.
  const slowed = againstMean(a, 1000, 960);
  assert.equal(slowed.limit_per_s, 980);
  assert.equal(slowed.ratio_to_limit, 0.755);
  assert.equal(slowed.met, true);
  assert.equal(slowed.merit, 740 / 980);
  assert.deepEqual(slowed.details, { limit_before: 1000, limit_after: 960 });
  // It sped up: the same deliveries are a smaller share of a higher limit.
  const faster = againstMean({ ...a, ratio_to_limit: 0.76, throughput_per_s: 760 }, 1000, 1040);
  assert.equal(faster.ratio_to_limit, 0.745);
  assert.equal(faster.met, false);
  // Half the ceiling stays half of the mean; a result without a ratio target keeps its verdict.
  const b = { ...result("b", 0.6, 20), limit_per_s: 500, throughput_per_s: 300, met: null };
  const bb = againstMean(b, 1000, 1100);
  assert.equal(bb.limit_per_s, 525);
  assert.equal(bb.met, null);
  assert.equal(againstMean({ ...b, limit_per_s: null }, 1000, 900).limit_per_s, null);
});

Deno.test("cpuPerUnit splits a window's CPU per unit of work, by where it went", () => {
  const cpu: CpuReport = {
    window_s: 15,
    servers_s: 27,
    server_threads: {
      "main": 3,
      "V8 DefaultWorke": 0.6,
      "worker-1": 12,
      "worker-2": 11.4,
      "worker-3": 0,
    },
    loadgen_s: 1.8,
    other_s: 0.2,
    busy_cores: 1.93,
    iowait_cores: 0,
    steal_cores: 0,
  };
  assert.deepEqual(cpuPerUnit(cpu, 15_000), {
    signing: 1.56,
    js: 0.2,
    v8_helpers: 0.04,
    load_generator: 0.12,
    all: 1.933,
  });
});
