/**
 * The supervisor owns the link table: it turns each socket into a link actor, gives it its
 * first handler, and reports a link's death to the Router as a `LinkClosed` input (ejabberd's
 * monitor 'DOWN'). At shutdown it closes every link, waiting a bounded time for their last
 * frames.
 * @module
 */
import type { TimerId } from "../../lib/world.ts";
import {
  CONGESTION_WAIT_MS_MAX,
  HELLO_TIMEOUT_MS,
  LINK_CLOSE_LINGER_MS,
  OUTBOX_HIGH_WATER,
} from "../../protocol/limits.ts";
import { Link, type LinkContext } from "../links/link.ts";
import type { FrameSocket } from "../links/outbox.ts";
import { FirstFrameHandler, ServerLinkHandler } from "../links/server_link.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { Joined } from "./bootstrap.ts";
import type { WebSocket } from "./dial.ts";
import { sleep } from "./server_world.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

/** What the supervisor needs. */
export interface SupervisorOptions {
  /**
   * What every link is given; the supervisor adds `uncongested` and `ackElsewhere`, answered
   * from its table, and `onReceive`, which counts frames received.
   */
  link: Omit<LinkContext, "uncongested" | "onReceive" | "ackElsewhere">;
  /** Counts frames received and sent by type, on every link. */
  metrics: Metrics;
}

/** Every live link, and what happens when one starts or ends. */
export class Supervisor {
  /** Live links by id; the Router reads it to send, only the supervisor adds and removes. */
  readonly links = new Map<string, Link>();
  readonly #ctx: LinkContext;
  readonly #metrics: Metrics;
  #nextLink = 1;

  constructor(o: SupervisorOptions) {
    this.#ctx = {
      ...o.link,
      uncongested: () => this.#uncongested(),
      ackElsewhere: (ack, from) => this.#ackElsewhere(ack, from),
      onReceive: (raw) => o.metrics.frameReceived(raw),
    };
    this.#metrics = o.metrics;
  }

  /** An inbound connection: its first frame decides the role; no hello in time closes it. */
  accept(socket: globalThis.WebSocket): void {
    const { clock } = this.#ctx;
    const link = this.#supervise(Object.assign(socket, { livenessByRuntime: true }), "in");
    link.handler = new FirstFrameHandler(link);
    const timer = clock.setTimeout(() => {
      if (
        link.handler?.role === "pending" ||
        (link.handler?.role === "user" && link.handler.userId === undefined)
      ) {
        link.close(1008, "no hello in time");
      }
    }, HELLO_TIMEOUT_MS);
    socket.onmessage = (e) =>
      link.receive(typeof e.data === "string" ? e.data : new TextDecoder().decode(e.data));
    // Deno may fire close twice (PLATFORM.md §4), so cleanup is idempotent.
    socket.onclose = (e) => {
      clock.clearTimeout(timer);
      this.#down(link, `socket closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
    };
  }

  /** A server we dialled answered: say our hello and tell the Router. */
  dialled(socket: WebSocket, server_id: string): void {
    const { link, handler } = this.#outbound(socket, server_id);
    handler.helloFrame();
    this.#ctx.post({
      type: "ServerDialed",
      link: link.id,
      server_id,
      at_ms: this.#ctx.clock.now(),
    });
  }

  /** An introducer welcomed us: its socket becomes the link to it. */
  welcomed(j: Joined): void {
    const { link } = this.#outbound(j.socket, j.introducer.server_id);
    // The Router links the introducer before the frames that followed the welcome arrive.
    this.#ctx.post({
      type: "Welcomed",
      link: link.id,
      introducer: j.introducer,
      servers: j.servers,
      raw: j.welcomeRaw,
      at_ms: this.#ctx.clock.now(),
    });
    for (const text of j.backlog) link.receive(text);
  }

  /**
   * Closes every link; each one's last frames and close frame go out first, but frames still
   * waiting for a signature are not worth a slow shutdown, so this is bounded too. A link still
   * closing after that is stopped and reports to nobody: the Router and the store are going.
   */
  async shutdown(): Promise<void> {
    const { clock } = this.#ctx;
    let bound: TimerId | undefined;
    await Promise.race([
      Promise.all(
        [...this.links.values()].map((
          link,
        ) => (link.close(1001, "server shutting down"), link.gone)),
      ),
      new Promise((resolve) =>
        bound = clock.setTimeout(() => resolve(undefined), LINK_CLOSE_LINGER_MS)
      ),
    ]);
    if (bound !== undefined) clock.clearTimeout(bound);
    for (const link of [...this.links.values()]) {
      this.links.delete(link.id);
      link.closed();
    }
    // The close frames themselves are written asynchronously: give them a moment.
    await sleep(clock, CLOSE_FRAMES_WRITTEN_MS);
  }

  /** An outbound server link on an npm:ws socket we opened (dialled, or the join). */
  #outbound(socket: WebSocket, server_id: string): { link: Link; handler: ServerLinkHandler } {
    const link = this.#supervise(outboundSocket(socket), "out");
    const handler = new ServerLinkHandler(link, server_id);
    link.handler = handler;
    socket.on("message", (data) => link.receive(data.toString()));
    // npm:ws shows pings and pongs: any traffic keeps the link alive (a peer may ping only).
    socket.on("ping", () => link.alive());
    socket.on("pong", () => link.alive());
    socket.on(
      "close",
      (code, reason) =>
        this.#down(link, `socket closed (${code}${reason.length ? ` ${reason}` : ""})`),
    );
    socket.on("error", () => {});
    return { link, handler };
  }

  #supervise(socket: FrameSocket, kind: "in" | "out"): Link {
    const id = `${kind === "in" ? "conn" : "peer"}:${this.#nextLink++}`;
    const link = new Link(id, this.#metrics.countSent(socket), this.#ctx);
    link.onDown = (reason) => this.#down(link, reason);
    this.links.set(id, link);
    return link;
  }

  /** A link is gone: once only, whichever of its socket and its own close said so first. */
  #down(link: Link, reason: string): void {
    if (!this.links.delete(link.id)) return;
    link.closed();
    this.#ctx.post({ type: "LinkClosed", link: link.id, reason, at_ms: this.#ctx.clock.now() });
  }

  /** Sends `ack` over the current link to its server, when that is not `from`. */
  #ackElsewhere(ack: UnsignedFrame, from: string): boolean {
    const current = this.#ctx.state().servers.get(ack.to)?.link;
    const link = current === undefined || current === from ? undefined : this.links.get(current);
    if (link === undefined) return false;
    link.send(ack);
    return true;
  }

  /** Resolves once no server link is backed up, or after CONGESTION_WAIT_MS_MAX. */
  async #uncongested(): Promise<void> {
    const { clock } = this.#ctx;
    const deadline = clock.now() + CONGESTION_WAIT_MS_MAX;
    while (this.#backedUp() && clock.now() < deadline) await sleep(clock, 5);
  }

  /** True when a server link's outbox is past its high water (asked once per content frame). */
  #backedUp(): boolean {
    for (const l of this.links.values()) {
      if (l.handler?.role === "server" && l.outboxDepth > OUTBOX_HIGH_WATER) return true;
    }
    return false;
  }
}

/** Time the close frames get to leave before the listener stops. */
const CLOSE_FRAMES_WRITTEN_MS = 20;

/** An npm:ws socket as a link's socket: it can ping, and we see its peer's pings and pongs. */
function outboundSocket(socket: WebSocket): FrameSocket {
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    ping: () => {
      try {
        socket.ping();
      } catch {
        // Not open (yet, or any more): its close is reported on its own.
      }
    },
  };
}
