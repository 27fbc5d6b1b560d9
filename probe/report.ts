/**
 * The probe's output: one line per check (`PASS name  reason  [section]`) and a summary, or one
 * JSON document with `--json`. The exit code is 1 when any check failed, else 0.
 * @module
 */
import type { Result, Status } from "./outcome.ts";

/** Counts per status. */
export interface Summary {
  pass: number;
  fail: number;
  skip: number;
}

/** The whole report, as `--json` prints it. */
export interface Report {
  target: string;
  timeout_ms: number;
  checks: Result[];
  summary: Summary;
  exit_code: number;
}

const NAME_WIDTH = 24;

/** One human-readable line for a check. */
export function formatLine(r: Result): string {
  return `${r.status.padEnd(4)}  ${r.name.padEnd(NAME_WIDTH)} ${r.reason}  [${r.section}]`;
}

/** Counts results by status. */
export function summarize(results: readonly Result[]): Summary {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  return { pass: count("PASS"), fail: count("FAIL"), skip: count("SKIP") };
}

/** 1 if any check failed, else 0. */
export function exitCode(results: readonly Result[]): number {
  return results.some((r) => r.status === "FAIL") ? 1 : 0;
}

/** The report of a finished run. */
export function buildReport(target: string, timeoutMs: number, results: Result[]): Report {
  return {
    target,
    timeout_ms: timeoutMs,
    checks: results,
    summary: summarize(results),
    exit_code: exitCode(results),
  };
}

/** The closing line of the text output. */
export function formatSummary(report: Report): string {
  const { pass, fail, skip } = report.summary;
  const failed = report.checks.filter((r) => r.status === "FAIL").map((r) => r.name);
  return `\nSummary: ${pass} PASS, ${fail} FAIL, ${skip} SKIP of ${report.checks.length} checks` +
    (failed.length > 0 ? ` (failed: ${failed.join(", ")})` : "") +
    ` -> exit ${report.exit_code}`;
}
