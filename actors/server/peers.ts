/**
 * Keeps links to every pinned server: dials when the Router asks (a `Dial` effect), retries
 * with exponential backoff and jitter, and stops as soon as the server is linked, whichever side
 * dialled. Backoff resets once a link to that server exists. A server that has not linked once
 * since its first try within a bounded time is forgotten (one log line), until it links to us
 * or is announced at another address.
 *
 * A link coming back to a server we were failing to reach is evidence that a partition healed:
 * the other waiting retries are brought forward to within one base delay (with jitter), and a
 * dial still in flight (begun into the partition) is retried as soon if it fails, instead of
 * each waiting out its own backoff, so a heal takes about as long at 100 peers as at 10. This
 * happens at most once per longest backoff, so a flapping network adds at most one dial per
 * peer per `backoffMaxMs`; a hastened dial that fails backs off from where it was.
 *
 * The dial itself is a {@linkcode Connector}: a WebSocket for the server
 * ({@linkcode socketConnector}), a simulated connection in the seeded simulation, which runs
 * this very class on its virtual clock.
 * @module
 */
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import type { Logger } from "../../lib/log.ts";
import { DIAL_TIMEOUT_MS, PEER_NEVER_LINKED_FORGET_MS } from "../../protocol/limits.ts";
import { type DialOptions, openSocket, peerUrl, type WebSocket } from "./dial.ts";
import type { RouterState } from "../router/router_state.ts";
import type { OutboundNote } from "./outbound_journal.ts";
import type { RetryStatus } from "../ops/status.ts";
import { flagId } from "../../protocol/ids.ts";

/** What the peer manager needs. */
export interface PeersContext {
  clock: Clock;
  random: Random;
  log: Logger;
  state: () => Readonly<RouterState>;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Makes one dial. */
  connect: Connector;
  /** How long a server that never linked is retried (default PEER_NEVER_LINKED_FORGET_MS). */
  forgetAfterMs?: number;
  /** Told each failed dial and why, for the journal (a dial that connects is the Router's). */
  note?: (note: OutboundNote) => void;
}

/** What a dial gave: a link to adopt or to discard, or why it failed. */
export type DialOutcome =
  | { ok: true; adopt: () => void; discard: () => void }
  | { ok: false; error: string };

/** Opens a link to `server_id` at `addr` and calls `done` once, with the outcome. */
export type Connector = (
  server_id: string,
  addr: { host: string; port: number },
  done: (outcome: DialOutcome) => void,
) => void;

/**
 * Dials a WebSocket; `adopt` turns an open socket into an outbound server link and tells the
 * Router; `dial` says which peers take wss:// and which CAs to trust.
 */
export function socketConnector(
  adopt: (socket: WebSocket, server_id: string) => void,
  dial?: DialOptions,
): Connector {
  return (server_id, addr, done) => {
    openSocket(peerUrl(addr.host, addr.port, dial), DIAL_TIMEOUT_MS, dial).then(
      (socket) =>
        done({
          ok: true,
          adopt: () => adopt(socket, server_id),
          discard: () => socket.close(1000, "already linked"),
        }),
      (e) => done({ ok: false, error: (e as Error).message }),
    );
  };
}

interface Attempt {
  failures: number;
  timer?: TimerId;
  /** When the scheduled retry runs. */
  retryAtMs?: number;
  dialling: boolean;
  /** When the first try of this process began. */
  sinceMs: number;
  /** Whether the server was seen linked since then: such a server is never forgotten. */
  linked: boolean;
  /** A heal was seen while this dial was in flight: if it fails, it is retried soon. */
  hastened?: boolean;
}

/** Outbound links to pinned servers. */
export class Peers {
  #attempts = new Map<string, Attempt>();
  /** Forgotten servers and the address they were forgotten at. */
  #forgotten = new Map<string, string>();
  #stopped = false;
  /** Before this time a returning link does not bring the other retries forward again. */
  #hastenNotBeforeMs = -Infinity;

  constructor(private readonly ctx: PeersContext) {}

  /** Makes sure a link to `server_id` exists or is being made. */
  dial(server_id: string): void {
    if (this.#stopped || server_id === this.ctx.state().server_id) return;
    if (this.#stillForgotten(server_id)) return;
    const attempt = this.#attempts.get(server_id);
    if (attempt && (attempt.timer !== undefined || attempt.dialling)) return;
    const next = attempt ??
      { failures: 0, dialling: false, sinceMs: this.ctx.clock.now(), linked: false };
    this.#attempts.set(server_id, next);
    // The first try is immediate; after a link was lost or a dial failed, back off.
    this.#schedule(server_id, next, attempt === undefined ? 0 : this.#delay(next.failures));
  }

  /**
   * A link to `server_id` is up, whichever side dialled: its backoff resets, and if we were
   * failing to reach it, the partition that kept it away has likely healed for the others too.
   */
  linked(server_id: string): void {
    const attempt = this.#attempts.get(server_id);
    if (attempt === undefined || this.#stopped) return;
    const returning = attempt.failures > 0;
    attempt.failures = 0;
    attempt.linked = true;
    if (attempt.timer !== undefined) {
      this.ctx.clock.clearTimeout(attempt.timer);
      attempt.timer = undefined;
      attempt.retryAtMs = undefined;
    }
    if (returning) this.#hasten();
  }

  /** The current reconnect state, for status pages. */
  status(): RetryStatus[] {
    return [...this.#attempts].map(([server_id, a]) => {
      const s: RetryStatus = { server_id, failures: a.failures, waiting: a.timer !== undefined };
      if (a.retryAtMs !== undefined) s.retry_at_ms = a.retryAtMs;
      if (!a.linked) s.forget_at_ms = a.sinceMs + this.#forgetAfterMs;
      return s;
    });
  }

  /** Stops all retries. */
  stop(): void {
    this.#stopped = true;
    for (const a of this.#attempts.values()) {
      if (a.timer !== undefined) this.ctx.clock.clearTimeout(a.timer);
    }
  }

  get #forgetAfterMs(): number {
    return this.ctx.forgetAfterMs ?? PEER_NEVER_LINKED_FORGET_MS;
  }

  /** True while a forgotten server has neither linked nor moved to another address. */
  #stillForgotten(server_id: string): boolean {
    const at = this.#forgotten.get(server_id);
    if (at === undefined) return false;
    const state = this.ctx.state();
    if (!state.servers.has(server_id) && addressOf(state, server_id) === at) return true;
    this.#forgotten.delete(server_id);
    return false;
  }

  #delay(failures: number): number {
    const { backoffBaseMs, backoffMaxMs, random } = this.ctx;
    const exp = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(failures, 30));
    return Math.round(exp * (0.5 + random.float() / 2));
  }

  /** Within one base delay, jittered over its second half. */
  #soon(): number {
    return Math.round(this.ctx.backoffBaseMs * (0.5 + this.ctx.random.float() / 2));
  }

  #schedule(server_id: string, attempt: Attempt, delayMs: number): void {
    attempt.retryAtMs = this.ctx.clock.now() + delayMs;
    attempt.timer = this.ctx.clock.setTimeout(() => {
      attempt.timer = undefined;
      attempt.retryAtMs = undefined;
      this.#try(server_id, attempt);
    }, delayMs);
  }

  /** Brings every retry due later than one base delay forward to within it, with jitter. */
  #hasten(): void {
    const { clock, backoffBaseMs, backoffMaxMs, log } = this.ctx;
    const now = clock.now();
    if (now < this.#hastenNotBeforeMs) return;
    this.#hastenNotBeforeMs = now + backoffMaxMs;
    let hastened = 0;
    for (const [server_id, attempt] of this.#attempts) {
      // A dial begun before the heal may still fail on it (a connect into the partition).
      if (attempt.dialling) attempt.hastened = true;
      if (attempt.timer === undefined || attempt.retryAtMs! <= now + backoffBaseMs) continue;
      clock.clearTimeout(attempt.timer);
      this.#schedule(server_id, attempt, this.#soon());
      hastened++;
    }
    if (hastened > 0) log.info("a lost server is back; retrying the others now", { hastened });
  }

  #try(server_id: string, attempt: Attempt): void {
    if (this.#stopped) return;
    const state = this.ctx.state();
    if (state.servers.has(server_id)) {
      attempt.failures = 0;
      attempt.linked = true;
      return;
    }
    const addr = state.server_addrs.get(server_id);
    if (!addr) return;
    attempt.dialling = true;
    this.ctx.connect(server_id, addr, (outcome) => {
      attempt.dialling = false;
      if (!outcome.ok) return this.#dialFailed(server_id, attempt, addr, outcome.error);
      if (this.#stopped || this.ctx.state().servers.has(server_id)) return outcome.discard();
      try {
        outcome.adopt();
      } catch (e) {
        return this.#dialFailed(server_id, attempt, addr, (e as Error).message);
      }
      this.linked(server_id);
    });
  }

  #dialFailed(
    server_id: string,
    attempt: Attempt,
    addr: { host: string; port: number },
    error: string,
  ): void {
    attempt.failures++;
    this.ctx.note?.({
      at_ms: this.ctx.clock.now(),
      what: "dial",
      target: `${addr.host}:${addr.port}`,
      server_id,
      raw: "",
      accepted: false,
      reason: `dial to ${flagId(server_id)} failed: ${error}`,
    });
    this.#failed(server_id, attempt, error);
  }

  /** After a failed dial: forget a server that never linked in time, else retry later. */
  #failed(server_id: string, attempt: Attempt, error: string): void {
    const { clock, log } = this.ctx;
    const forgetAt = attempt.sinceMs + this.#forgetAfterMs;
    if (!attempt.linked && clock.now() >= forgetAt) {
      this.#attempts.delete(server_id);
      this.#forgotten.set(server_id, addressOf(this.ctx.state(), server_id));
      log.warn("forgetting a server that never linked", {
        server_id,
        tried_for_s: Math.round((clock.now() - attempt.sinceMs) / 1000),
        failures: attempt.failures,
        error,
      });
      return;
    }
    const delay = attempt.hastened ? this.#soon() : this.#delay(attempt.failures);
    attempt.hastened = false;
    // The first failure is worth a line; the retries after it are not.
    const fields = { server_id, error, retry_ms: delay, failures: attempt.failures };
    if (attempt.failures === 1) log.info("server unreachable; will retry", fields);
    else log.debug("server unreachable; will retry", fields);
    this.#schedule(server_id, attempt, delay);
  }
}

function addressOf(state: Readonly<RouterState>, server_id: string): string {
  const addr = state.server_addrs.get(server_id);
  return addr ? `${addr.host}:${addr.port}` : "";
}
