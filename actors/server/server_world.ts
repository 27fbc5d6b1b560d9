/**
 * What every step of a server's start and shutdown is given: its clock and randomness (injected,
 * so tests and the simulation can swap them), its log, and the counters behind `/metrics`.
 * @module
 */
import type { Logger } from "../../lib/log.ts";
import type { Clock, Random } from "../../lib/world.ts";
import type { Metrics } from "../ops/metrics.ts";

/** The world a server runs in. */
export interface ServerWorld {
  clock: Clock;
  random: Random;
  log: Logger;
  metrics: Metrics;
}

/** Waits `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
