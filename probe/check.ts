/**
 * What a check is: a named, sectioned step of the probe that runs against the shared context
 * and concludes with an {@linkcode Outcome}.
 * @module
 */
import type { ProbeContext } from "./context.ts";
import type { Group, Outcome } from "./outcome.ts";

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
