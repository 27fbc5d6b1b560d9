/**
 * What a check is and what it returns. A check either runs to a verdict (PASS / FAIL) or cannot
 * run against this target (SKIP, with the reason); only what the spec makes mandatory, or a
 * weakness that was actually observed, is a FAIL.
 * @module
 */
import type { ProbeContext } from "./context.ts";

/** A check's verdict. */
export type Status = "PASS" | "FAIL" | "SKIP";

/** Mandatory features (spec §14/§18) or weakness classes of the spec's §16. */
export type Group = "mandatory" | "weakness";

/** What a check found. */
export interface Outcome {
  status: Status;
  reason: string;
}

/** One check of the probe. */
export interface Check {
  /** Stable, kebab-case; tests and scripts match on it. */
  name: string;
  group: Group;
  /** Where it comes from: sections of SOCP-1.3.md, "spec §N" for the official text. */
  section: string;
  /** Checks that must have passed for this one to run; otherwise it is skipped. */
  requires?: string[];
  run(ctx: ProbeContext): Promise<Outcome>;
}

/** A check's outcome with its identity and duration, as reported. */
export interface Result extends Outcome {
  name: string;
  group: Group;
  section: string;
  ms: number;
}

export const pass = (reason: string): Outcome => ({ status: "PASS", reason });
export const fail = (reason: string): Outcome => ({ status: "FAIL", reason });
export const skip = (reason: string): Outcome => ({ status: "SKIP", reason });
