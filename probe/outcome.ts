/**
 * What a check can conclude. A check either runs to a verdict (PASS / FAIL) or cannot run
 * against this target (SKIP, with the reason); only what the spec makes mandatory, or a weakness
 * that was actually observed, is a FAIL.
 * @module
 */

/** A check's verdict. */
export type Status = "PASS" | "FAIL" | "SKIP";

/** Mandatory features (spec §14/§18) or weakness classes of the spec's §16. */
export type Group = "mandatory" | "weakness";

/** What a check found. */
export interface Outcome {
  status: Status;
  reason: string;
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
