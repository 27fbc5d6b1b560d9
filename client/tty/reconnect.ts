/**
 * Keeps the interactive client connected: when the socket to the server closes (a restart, a
 * network drop), the client does not exit; it says so, waits with backoff and jitter, and opens
 * a new session, which says USER_HELLO (and registers its login) exactly as on first connect.
 * Time and randomness are injected so tests drive it without real waits.
 * @module
 */
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import { type BackoffPolicy, reconnectDelayMs } from "./backoff.ts";

/** The part of a session the connection needs. */
export interface Closable {
  close(): Promise<void>;
}

/** What the connection tells the user. */
export type ConnectionState =
  | { state: "connected"; attempt: number }
  | { state: "waiting"; attempt: number; delayMs: number; reason: string };

/** What a connection needs. */
export interface ConnectionOptions<S extends Closable> {
  /** Opens a session; `lost` is to be called when its socket closes after it was ready. */
  open(lost: (reason: string) => void): Promise<S>;
  policy: BackoffPolicy;
  clock: Clock;
  random: Random;
  onState(state: ConnectionState): void;
}

/** One logical connection to the server, made of successive sessions. */
export class Connection<S extends Closable> {
  #session?: S;
  #attempt = 0;
  #timer?: TimerId;
  #stopped = false;
  #generation = 0;

  constructor(private readonly options: ConnectionOptions<S>) {}

  /** The live session; undefined while waiting to reconnect. */
  get session(): S | undefined {
    return this.#session;
  }

  /** The first connection: its failure is the caller's to report (no retry). */
  async start(): Promise<S> {
    return await this.#open();
  }

  /** Stops retrying and closes the live session, if any. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const session = this.#session;
    this.#session = undefined;
    await session?.close();
  }

  async #open(): Promise<S> {
    const generation = ++this.#generation;
    // A close while connecting fails the open itself; one after it is a loss to recover from.
    let live = false;
    let closedEarly: string | undefined;
    const session = await this.options.open((reason) => {
      if (generation !== this.#generation) return;
      if (live) this.#lost(reason);
      else closedEarly = reason;
    });
    if (this.#stopped) {
      await session.close();
      throw new Error("stopped");
    }
    live = true;
    this.#session = session;
    this.options.onState({ state: "connected", attempt: this.#attempt });
    this.#attempt = 0;
    if (closedEarly !== undefined) this.#lost(closedEarly);
    return session;
  }

  #lost(reason: string): void {
    this.#session = undefined;
    if (this.#stopped) return;
    this.#attempt++;
    const delayMs = reconnectDelayMs(
      this.#attempt,
      this.options.policy,
      this.options.random.float(),
    );
    this.options.onState({ state: "waiting", attempt: this.#attempt, delayMs, reason });
    this.#timer = this.options.clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#open().catch((e) => this.#lost((e as Error).message));
    }, delayMs);
  }
}
