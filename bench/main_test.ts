// Goal: a scenario run in rounds reports its median round, the lower middle of an even count,
// and keeps every round's figures.
import assert from "node:assert/strict";
import { medianRound } from "./main.ts";
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
