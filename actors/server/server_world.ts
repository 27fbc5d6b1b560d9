/**
 * What every step of a server's start and shutdown is given: its clock and randomness (injected,
 * so tests and the simulation can swap them), its log, and the counters behind `/metrics`; and,
 * once it has an identity and a port, the parts that joining and linking share.
 * @module
 */
import type { RsaBackend } from "../../crypto/types.ts";
import type { Logger } from "../../lib/log.ts";
import type { Clock, Random } from "../../lib/world.ts";
import type { Identity } from "../../store/identity.ts";
import type { FrameSigner } from "../links/frame_signer.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { ServerConfig } from "./config.ts";
import type { DialOptions } from "./dial.ts";
import type { OutboundNote } from "./outbound_journal.ts";

/** The world a server runs in. */
export interface ServerWorld {
  clock: Clock;
  random: Random;
  log: Logger;
  metrics: Metrics;
}

/** What the server has once it knows who it is and where it listens: enough to join and to link. */
export interface ServerParts {
  config: ServerConfig;
  identity: Identity;
  world: ServerWorld;
  signer: FrameSigner;
  /** Seals signed at once: as many as the signing threads take. */
  sealsAtOnce: number;
  backend: RsaBackend;
  /** Where other servers reach us. */
  advertise: { host: string; port: number };
  dial: DialOptions;
  /** Journals an outbound attempt (outbound_journal.ts). */
  note: (note: OutboundNote) => void;
}

/** Waits `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
