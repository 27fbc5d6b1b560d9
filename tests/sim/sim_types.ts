/**
 * What the checkers see of the simulated world, so that `checkers.ts` depends on these shapes and
 * not on the world that runs them (`sim_world.ts` implements them and calls the checkers).
 * @module
 */
import type { Connection } from "./fake_network.ts";
import type { SimServer } from "./sim_server.ts";

/** A DM the simulation sent, and how often it arrived. */
export interface MessageRecord {
  token: string;
  from: string;
  to: string;
  ts: number;
  /** "chaos" DMs may be lost; "probe" DMs (sent after healing) must arrive exactly once. */
  phase: "chaos" | "probe";
  round: number;
  deliveries: number;
}

/** A simulated user, as the checkers see it. */
export interface CheckedUser {
  readonly id: string;
  readonly key: string;
  /** Online, and the link is open at both ends: the truth presence must converge to. */
  readonly connected: boolean;
  readonly conn: Connection | undefined;
  readonly server: SimServer | undefined;
}

/** The simulated world, as the checkers see it. */
export interface CheckedWorld {
  readonly servers: readonly SimServer[];
  readonly users: readonly CheckedUser[];
  readonly messages: Map<string, MessageRecord>;
  /** user -> the servers that ever accepted its hello (a remote location must be one of them). */
  readonly user_servers: Map<string, Set<string>>;
  /** The servers whose links the current step changed: checked whole. */
  readonly touched: Set<SimServer>;
  /** user -> the servers where the current step's events named that user. */
  readonly touched_users: Map<string, Set<SimServer>>;
  /** The (server, linked server) pairs the current step's events named. */
  readonly touched_peers: [SimServer, string][];
  /** user -> the servers whose `local_users` has it, kept by the step checker. */
  readonly local_on: Map<string, Set<SimServer>>;
  readonly round: number;
  user(id: string): CheckedUser | undefined;
  /** Stops the run with a broken invariant. */
  fail(invariant: string): never;
}
