/**
 * When to try again after the connection to the server is lost: exponential backoff with
 * jitter, so clients of a restarted server do not all knock at the same instant.
 * @module
 */

/** The first delay and the cap, in milliseconds. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** One second, doubling per failed attempt, up to half a minute: the browser client's policy. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000 };

/**
 * The wait before attempt `attempt` (1 = the first retry): base · 2^(attempt-1), capped, then
 * scaled by a factor in [0.5, 1) drawn from `random01` (a float in [0, 1)).
 */
export function reconnectDelayMs(
  attempt: number,
  policy: BackoffPolicy,
  random01: number,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(delay * (0.5 + Math.min(Math.max(random01, 0), 1) / 2));
}

/** Reads `--reconnect-delay BASE[,MAX]` (milliseconds); undefined when malformed. */
export function parseBackoff(text: string): BackoffPolicy | undefined {
  const match = /^(\d+)(?:,(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const baseMs = Number(match[1]);
  const maxMs = match[2] === undefined ? Math.max(baseMs, DEFAULT_BACKOFF.maxMs) : Number(match[2]);
  if (baseMs < 1 || maxMs < baseMs) return undefined;
  return { baseMs, maxMs };
}
