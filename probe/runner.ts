/**
 * Runs checks one after the other. A check whose prerequisites did not pass is skipped; a check
 * that throws or overruns its budget is a FAIL if it is mandatory and a SKIP if it probes a
 * weakness (it could not tell).
 * @module
 */
import type { Check } from "./check.ts";
import type { Outcome, Result } from "./outcome.ts";
import type { ProbeContext } from "./context.ts";

/** A check's whole budget, in steps: the longest check waits about three steps. */
const STEPS_PER_CHECK = 4;

/** Runs `checks` in order; `onResult` sees each result as soon as it is known. */
export async function runChecks(
  ctx: ProbeContext,
  checks: readonly Check[],
  onResult: (r: Result) => void = () => {},
): Promise<Result[]> {
  const results: Result[] = [];
  for (const check of checks) {
    const started = performance.now();
    const outcome = await runOne(ctx, check);
    const result: Result = {
      name: check.name,
      group: check.group,
      section: check.section,
      ...outcome,
      ms: Math.round(performance.now() - started),
    };
    ctx.results.set(check.name, result);
    results.push(result);
    onResult(result);
  }
  return results;
}

async function runOne(ctx: ProbeContext, check: Check): Promise<Outcome> {
  const unmet = (check.requires ?? []).filter((name) => !ctx.passed(name));
  if (unmet.length > 0) {
    const why = unmet.map((n) => `${n} ${ctx.results.get(n)?.status ?? "did not run"}`);
    return { status: "SKIP", reason: `needs ${why.join(", ")}` };
  }
  const budget = ctx.opts.timeoutMs * STEPS_PER_CHECK + 2000;
  const couldNot = check.group === "mandatory" ? "FAIL" : "SKIP";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overrun = new Promise<Outcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: couldNot, reason: `the check did not finish within ${budget} ms` }),
      budget,
    );
  });
  try {
    return await Promise.race([check.run(ctx), overrun]);
  } catch (e) {
    return { status: couldNot, reason: `the check could not run: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}
