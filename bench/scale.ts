/**
 * Scenario (g), the mesh's scale curve: user joins into 3, 5, 10 and 20 real server processes
 * (frames between servers per join, time until every other server's user hears of it), and the
 * same plus a partition heal in the seeded simulation up to 100 servers (`sim_scale.ts`). The
 * growth exponents are least-squares fits of log(y) against log(n); the chart goes to
 * `docs/scale-curve.svg` (not in a smoke run).
 * @module
 */
import type { BenchContext, Result } from "./scenarios.ts";
import { joinPropagation } from "./scenarios.ts";
import { chartSvg, growthExponent, reference, type Series } from "./scale_chart.ts";
import { round } from "./proc.ts";
import { simScale, type SimScalePoint } from "./sim_scale.ts";

/** Where the chart is written. */
export const CHART_PATH = new URL("../docs/scale-curve.svg", import.meta.url);

/** Real sizes, simulated sizes, and joins per size. */
function sizes(smoke: boolean) {
  return smoke ? { real: [3], simulated: [3, 5], joins: (_n: number) => 2, simJoins: 2 } : {
    real: [3, 5, 10, 20],
    simulated: [3, 5, 10, 20, 50, 100],
    joins: (n: number) => (n <= 10 ? 20 : 10),
    simJoins: 10,
  };
}

export async function scaleCurve(ctx: BenchContext): Promise<Result[]> {
  const plan = sizes(ctx.smoke);
  const results: Result[] = [];
  const missed: string[] = [];
  for (const n of plan.real) {
    try {
      results.push(...await joinPropagation(ctx, n, plan.joins(n)));
      ctx.log(`    ${JSON.stringify(results.at(-1)?.details)}`);
    } catch (e) {
      // Two shared cores may not start 20 processes in time: that size is reported as missed.
      missed.push(`${n} servers: ${e instanceof Error ? e.message.split("\n")[0] : e}`);
      ctx.log(`  (g) ${n}-server mesh not measured: ${missed.at(-1)}`);
    }
  }
  const points: SimScalePoint[] = [];
  for (const n of plan.simulated) {
    ctx.log(`  (g) simulation: ${n} servers, ${10 * n} users, a partition heal`);
    points.push(simScale(n, 10 * n, plan.simJoins));
    ctx.log(`    ${JSON.stringify(points.at(-1))}`);
  }
  const real: [number, number][] = results.map((r) => [
    r.details!.servers as number,
    r.details!.frames_received_per_join as number,
  ]);
  const sim = (f: (p: SimScalePoint) => number) =>
    points.map((p) => [p.servers, f(p)] as [number, number]);
  const at = (n: number) => points.find((p) => p.servers === n);
  const growth = {
    join_frames_real: round(growthExponent(real), 2),
    join_frames_sim: round(growthExponent(sim((p) => p.join_frames)), 2),
    join_ms_sim: round(growthExponent(sim((p) => p.join_ms_p50)), 2),
    heal_frames_sim: round(growthExponent(sim((p) => p.heal_frames)), 2),
    heal_ms_sim: round(growthExponent(sim((p) => p.heal_ms)), 2),
    resync_ms_sim: round(growthExponent(sim((p) => Math.max(p.resync_ms, 1))), 2),
  };
  const p50 = at(50);
  const p10 = at(10);
  const met = p50 && p10 ? p50.join_frames <= 3 * 50 && p50.heal_ms <= 2 * p10.heal_ms : null;
  results.push({
    name: "g: scale curve (simulation, virtual time)",
    unit: "per size: frames between servers per join, ms until every server locates it, heal",
    throughput_per_s: null,
    p50_ms: null,
    p99_ms: null,
    limit_per_s: null,
    ratio_to_limit: null,
    target: "at 50 servers: frames per join ≤ 3n, heal convergence ≤ 2 × at 10",
    met,
    details: { points, growth_exponents: growth, real_sizes_not_measured: missed },
  });
  if (!ctx.smoke) await writeChart(real, points);
  return results;
}

/** Writes the chart: join frames of the processes (servers, frames) and the simulated points. */
export async function writeChart(
  real: [number, number][],
  points: SimScalePoint[],
): Promise<void> {
  const sim = (f: (p: SimScalePoint) => number) =>
    points.map((p) => [p.servers, Math.max(f(p), 1)] as [number, number]);
  const series: Series[] = [
    { label: "join frames (processes)", color: "#c0392b", points: real },
    { label: "join frames (sim)", color: "#2471a3", points: sim((p) => p.join_frames) },
    { label: "heal frames (sim)", color: "#28b463", points: sim((p) => p.heal_frames) },
    { label: "heal converged ms (sim)", color: "#17202a", points: sim((p) => p.heal_ms) },
    { label: "heal re-sync ms (sim)", color: "#af7ac5", points: sim((p) => p.resync_ms) },
    { label: "join ms p50 (sim)", color: "#f39c12", points: sim((p) => p.join_ms_p50) },
    reference("3n (target)", sim((p) => p.servers), 3, 1),
  ];
  await Deno.writeTextFile(
    CHART_PATH,
    chartSvg("(g) gossip_direct mesh: cost against servers", "frames / ms", series),
  );
}
