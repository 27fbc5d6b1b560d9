/**
 * Keeps links to every pinned server: dials when the Router asks (a `Dial` effect), retries
 * with exponential backoff and jitter, and stops as soon as the server is linked, whichever side
 * dialled. Backoff resets once a link to that server exists.
 * @module
 */
import type { Clock, Random, TimerId } from "../lib/world.ts";
import type { Logger } from "../lib/log.ts";
import { DIAL_TIMEOUT_MS } from "../protocol/limits.ts";
import { type DialOptions, openSocket, peerUrl, type WebSocket } from "./dial.ts";
import type { RouterState } from "./router_state.ts";
import type { OutboundNote } from "./outbound_journal.ts";
import { flagId } from "../protocol/ids.ts";

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
  /** Hardening: which peers take wss:// and which CAs to trust. */
  dial?: DialOptions;
  /** Told each failed dial and why, for the journal (a dial that connects is the Router's). */
  note?: (note: OutboundNote) => void;
}

interface Attempt {
  failures: number;
  timer?: TimerId;
  dialling: boolean;
}

/** Outbound links to pinned servers. */
export class Peers {
  #attempts = new Map<string, Attempt>();
  #stopped = false;

  constructor(private readonly ctx: PeersContext) {}

  /** Makes sure a link to `server_id` exists or is being made. */
  dial(server_id: string): void {
    if (this.#stopped || server_id === this.ctx.state().server_id) return;
    const attempt = this.#attempts.get(server_id);
    if (attempt && (attempt.timer !== undefined || attempt.dialling)) return;
    const next = attempt ?? { failures: 0, dialling: false };
    this.#attempts.set(server_id, next);
    // The first try is immediate; after a link was lost or a dial failed, back off.
    this.#schedule(server_id, next, attempt === undefined ? 0 : this.#delay(next.failures));
  }

  /** The current reconnect state, for status pages. */
  status(): { server_id: string; failures: number; waiting: boolean }[] {
    return [...this.#attempts].map(([server_id, a]) => ({
      server_id,
      failures: a.failures,
      waiting: a.timer !== undefined,
    }));
  }

  /** Stops all retries. */
  stop(): void {
    this.#stopped = true;
    for (const a of this.#attempts.values()) {
      if (a.timer !== undefined) this.ctx.clock.clearTimeout(a.timer);
    }
  }

  #delay(failures: number): number {
    const { backoffBaseMs, backoffMaxMs, random } = this.ctx;
    const exp = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.min(failures, 30));
    return Math.round(exp * (0.5 + random.float() / 2));
  }

  #schedule(server_id: string, attempt: Attempt, delayMs: number): void {
    attempt.timer = this.ctx.clock.setTimeout(() => {
      attempt.timer = undefined;
      void this.#try(server_id, attempt);
    }, delayMs);
  }

  async #try(server_id: string, attempt: Attempt): Promise<void> {
    if (this.#stopped) return;
    const state = this.ctx.state();
    if (state.servers.has(server_id)) {
      attempt.failures = 0;
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
      this.ctx.adopt(socket, server_id);
    } catch (e) {
      attempt.dialling = false;
      attempt.failures++;
      const delay = this.#delay(attempt.failures);
      this.ctx.note?.({
        at_ms: this.ctx.clock.now(),
        what: "dial",
        target: `${addr.host}:${addr.port}`,
        server_id,
        raw: "",
        accepted: false,
        reason: `dial to ${flagId(server_id)} failed: ${
          (e as Error).message
        }; retry in ${delay} ms`,
      });
      this.ctx.log.info("server unreachable; will retry", {
        server_id,
        error: (e as Error).message,
        retry_ms: delay,
      });
      this.#schedule(server_id, attempt, delay);
    }
  }
}
