/**
 * Keeps links to every pinned server: dials when the Router asks (a `Dial` effect), retries
 * with exponential backoff and jitter, and stops as soon as the server is linked, whichever side
 * dialled. Backoff resets once a link to that server exists. A server that has not linked once
 * since its first try within a bounded time is forgotten (one log line), until it links to us
 * or is announced at another address.
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
  /** Turns an open socket into an outbound server link and tells the Router. */
  adopt: (socket: WebSocket, server_id: string) => void;
  /** Which peers take wss:// and which CAs to trust. */
  dial?: DialOptions;
  /** How long a server that never linked is retried (default PEER_NEVER_LINKED_FORGET_MS). */
  forgetAfterMs?: number;
  /** Told each failed dial and why, for the journal (a dial that connects is the Router's). */
  note?: (note: OutboundNote) => void;
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
}

/** Outbound links to pinned servers. */
export class Peers {
  #attempts = new Map<string, Attempt>();
  /** Forgotten servers and the address they were forgotten at. */
  #forgotten = new Map<string, string>();
  #stopped = false;

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

  #schedule(server_id: string, attempt: Attempt, delayMs: number): void {
    attempt.retryAtMs = this.ctx.clock.now() + delayMs;
    attempt.timer = this.ctx.clock.setTimeout(() => {
      attempt.timer = undefined;
      attempt.retryAtMs = undefined;
      void this.#try(server_id, attempt);
    }, delayMs);
  }

  async #try(server_id: string, attempt: Attempt): Promise<void> {
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
    try {
      const socket = await openSocket(
        peerUrl(addr.host, addr.port, this.ctx.dial),
        DIAL_TIMEOUT_MS,
        this.ctx.dial,
      );
      attempt.dialling = false;
      if (this.#stopped || this.ctx.state().servers.has(server_id)) {
        socket.close(1000, "already linked");
        return;
      }
      attempt.failures = 0;
      attempt.linked = true;
      this.ctx.adopt(socket, server_id);
    } catch (e) {
      attempt.dialling = false;
      attempt.failures++;
      const error = (e as Error).message;
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
    const delay = this.#delay(attempt.failures);
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
