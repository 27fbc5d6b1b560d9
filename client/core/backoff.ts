/**
 * When to try connecting again after the `failures`-th failure in a row: the delay doubles from
 * {@linkcode RECONNECT_BASE_MS} up to {@linkcode RECONNECT_MAX_MS}, and a random half of it is
 * dropped ("equal jitter") so clients cut off together do not all come back at the same moment.
 * Pure: the random number is an argument.
 * @module
 */
import { RECONNECT_BASE_MS, RECONNECT_MAX_MS } from "../../protocol/limits.ts";

/** The reconnect policy. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** The policy both clients use. */
export const DEFAULT_BACKOFF: Backoff = { baseMs: RECONNECT_BASE_MS, maxMs: RECONNECT_MAX_MS };

/** Milliseconds to wait after `failures` (≥ 1) failures in a row; `random` in [0, 1). */
export function backoffDelay(failures: number, random: number, policy = DEFAULT_BACKOFF): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 30);
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(delay * (0.5 + random / 2));
}
