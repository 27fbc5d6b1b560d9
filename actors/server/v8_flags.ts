/**
 * The V8 flags a server runs with: `deno task start` and the compiled binary pass them, and the
 * bench starts its servers the same way. They must be given when the process starts (V8 sizes
 * its heap then), so `deno run -A main.ts serve` without them runs, only with longer pauses.
 *
 * `--max-semi-space-size=4` (MiB): under a burst of load V8 grows its young generation to 64 MiB
 * and keeps it. Each young collection then copies everything that survived a longer interval,
 * and at half load those collections took 6–18 ms each instead of 2–4, the p99 of a local DM
 * (BENCHMARKS.md, (a')). With the cap they stay short; throughput at full load stayed within
 * the machine's noise. Bursts of long-lived work pay for it: a join storm runs about a fifth
 * slower, as more of what it queues outlives the smaller young generation.
 * @module
 */

/** V8 flags of a serving process, without the `--v8-flags=` prefix. */
export const SERVER_V8_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/**
 * The one Deno argument that passes the server's flags, plus `extra`, to V8, as `deno task start`
 * does.
 */
export function v8FlagsArg(extra: readonly string[] = []): string {
  return `--v8-flags=${[...SERVER_V8_FLAGS, ...extra].join(",")}`;
}
