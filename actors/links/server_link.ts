/**
 * The server side of a link (§3.1-3.4). Every frame must verify with the pinned key of its
 * `from` server, whoever relayed it; a SERVER_ANNOUNCE from a server not yet pinned proves the
 * key it carries. An inbound link starts with the peer's hello; an outbound link (we dialled)
 * starts with ours. Heartbeats (and WebSocket pings) go out every interval; a link without any
 * traffic (frame, ping or pong) for the timeout is closed.
 * @module
 */
import type { PublicKey } from "../../crypto/types.ts";
import { verifyPayload } from "../../crypto/signing.ts";
import type { Frame } from "../../protocol/mod.ts";
import { SERVER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import type { TimerId } from "../../lib/world.ts";
import type { FrameHandler, Link } from "./link.ts";
import { UserLinkHandler } from "./user_link.ts";
import type { ServerHelloFrame } from "../router/router_messages.ts";
import { CONTENT_TYPES } from "../router/router_content.ts";
import { OUR_SERVER_FEATURES } from "../router/router_delivery.ts";
import { verifyFrameCached } from "./verify_cache.ts";
import { serverOf } from "../router/router_state.ts";

/** First frames of a server link: ours, the tolerated ones (§15 P10) and the v1.1 name (§10). */
const HELLO_TYPES = new Set([
  "SERVER_HELLO_LINK",
  "SERVER_HELLO_JOIN",
  "SERVER_ANNOUNCE",
  "PEER_HELLO_LINK",
]);

/** Handles a link to another server. */
export class ServerLinkHandler implements FrameHandler {
  readonly role = "server";
  #established: boolean;
  /** The peer sends HEARTBEAT frames, so it is held to them (§3.4) wherever pings are hidden. */
  #heartbeats = false;
  #timer: TimerId | undefined;
  #stopped = false;

  /**
   * @param link the link
   * @param peer the server we dialled (outbound), or undefined for an inbound link
   */
  constructor(private readonly link: Link, private readonly peer?: string) {
    this.#established = peer !== undefined;
    this.#schedule();
  }

  /** Our SERVER_HELLO_LINK, the first frame of a link we dialled (§15 P10). */
  helloFrame(): void {
    const { ctx } = this.link;
    const state = ctx.state();
    this.link.send({
      type: "SERVER_HELLO_LINK",
      from: state.server_id,
      to: this.peer ?? "*",
      ts: ctx.clock.now(),
      payload: {
        host: ctx.advertise.host,
        port: ctx.advertise.port,
        pubkey: state.server_pub,
        features: OUR_SERVER_FEATURES,
      },
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.link.ctx.clock.clearTimeout(this.#timer);
  }

  async handle(raw: string, at_ms: number): Promise<void> {
    const frame = this.link.parse(raw, at_ms, SERVER_FRAME_BYTES_MAX);
    if (frame === undefined) return;
    if (!this.#established) return await this.#hello(frame, raw, at_ms);
    const { backend } = this.link.ctx;
    const answer = frame.type !== "ERROR";
    if (frame.sig === "") {
      return this.link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `unsigned ${frame.type}: server frames must be signed`,
        to: frame.from,
        answer,
      });
    }
    const state = this.link.ctx.state();
    // A server that kept the placeholder id it joined with speaks for the UUID we assigned it.
    frame.from = serverOf(state, frame.from);
    // Raw user content over a server link is accepted when the neighbour signed it (§15 P6).
    const neighbour = this.peer ?? [...state.servers].find(([, s]) => s.link === this.link.id)?.[0];
    const signer =
      state.server_keys.has(frame.from) || !CONTENT_TYPES.has(frame.type) || neighbour === undefined
        ? frame.from
        : neighbour;
    const pinned = state.server_keys.get(signer);
    const carried = await this.#carriedKey(frame);
    const key = pinned !== undefined
      ? await importKey(this.link, pinned)
      : frame.type === "SERVER_ANNOUNCE"
      ? carried.key
      : undefined;
    if (key === undefined) {
      return this.link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `${frame.type} from unknown server ${frame.from}: no pinned key to verify it`,
        to: frame.from,
        answer,
      });
    }
    if (!(await verifyFrameCached(backend, key, frame))) {
      const whose = pinned !== undefined
        ? `the pinned key of server ${frame.from}`
        : "the key it carries";
      return this.link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `signature of ${frame.type} does not verify with ${whose}`,
        to: frame.from,
        answer,
      });
    }
    if (frame.type === "USER_ADVERTISE" || frame.type === "USER_REMOVE") {
      frame.payload.server_id = serverOf(state, frame.payload.server_id);
    }
    if (frame.type === "HEARTBEAT") this.#heartbeats = true;
    this.link.post({
      type: "FromServer",
      link: this.link.id,
      frame,
      pubkey: carried.spki,
      raw,
      at_ms,
    });
  }

  async #hello(frame: Frame, raw: string, at_ms: number): Promise<void> {
    const link = this.link;
    if (!HELLO_TYPES.has(frame.type)) {
      link.refuse({
        raw,
        at_ms,
        code: "UNKNOWN_TYPE",
        detail:
          `first frame of a server link must be SERVER_HELLO_LINK or SERVER_HELLO_JOIN, got ${frame.type}`,
        to: frame.from,
      });
      return link.close(1008, "no server hello");
    }
    const hello = frame as ServerHelloFrame;
    const imported = await link.ctx.backend.importPublic(hello.payload.pubkey);
    if (!imported.ok) {
      const detail = `field "payload.pubkey": ${imported.reason}`;
      link.refuse({ raw, at_ms, code: "BAD_KEY", detail, to: frame.from });
      return link.close(1008, "BAD_KEY");
    }
    // The hello must prove possession of the key it presents (§3.1.1).
    if (
      hello.sig === "" ||
      !(await verifyPayload(link.ctx.backend, imported.key, hello.payload, hello.sig))
    ) {
      link.refuse({
        raw,
        at_ms,
        code: "INVALID_SIG",
        detail: `${frame.type} must be signed with the key in payload.pubkey`,
        to: frame.from,
      });
      return link.close(1008, "INVALID_SIG");
    }
    this.#established = true;
    link.post({
      type: "ServerHello",
      link: link.id,
      frame: hello,
      pubkey: imported.key.spki,
      fresh_id: link.ctx.random.uuid(),
      raw,
      at_ms,
    });
  }

  /** The key a frame carries for the Router: an advertised user's, or an announced server's. */
  async #carriedKey(frame: Frame): Promise<{ spki: string; key?: PublicKey }> {
    let text: unknown;
    if (frame.type === "USER_ADVERTISE") {
      text = frame.payload.pubkey ??
        (frame.payload.meta as { pubkey?: unknown } | undefined)?.pubkey;
    } else if (frame.type === "SERVER_ANNOUNCE") text = frame.payload.pubkey;
    if (typeof text !== "string") return { spki: "" };
    const imported = await this.link.ctx.backend.importPublic(text);
    return imported.ok ? { spki: imported.key.spki, key: imported.key } : { spki: "" };
  }

  /** Heartbeat and silence check, every interval (§3.4). */
  #schedule(): void {
    const { ctx } = this.link;
    this.#timer = ctx.clock.setTimeout(() => {
      if (this.#stopped) return;
      const silentMs = ctx.clock.now() - this.link.lastReceivedMs;
      // Any traffic counts (frames, pings, pongs). Where the runtime hides pings and pongs from
      // us, a peer that sends HEARTBEAT is held to it, and one that does not (it keeps the link
      // alive with pings) is judged by the runtime, which closes the socket when it stops
      // answering pings (see FrameSocket.livenessByRuntime).
      if (
        silentMs > ctx.linkTimeoutMs && (!this.link.livenessByRuntime || this.#heartbeats)
      ) {
        ctx.log.warn("server link timed out", { link: this.link.id, silent_ms: silentMs });
        return this.link.close(4000, `TIMEOUT: no frame, ping or pong for ${silentMs} ms`);
      }
      const state = ctx.state();
      const peer = this.peer ?? [...state.servers].find(([, s]) => s.link === this.link.id)?.[0];
      if (peer !== undefined) {
        this.link.send({
          type: "HEARTBEAT",
          from: state.server_id,
          to: peer,
          ts: ctx.clock.now(),
          payload: {},
        });
      }
      // A WebSocket ping too: a peer that sends no HEARTBEAT still proves itself by its pong.
      this.link.ping();
      this.#schedule();
    }, ctx.heartbeatIntervalMs);
  }
}

async function importKey(link: Link, spki: string): Promise<PublicKey | undefined> {
  const cache = link.ctx.serverKeys;
  let hit = cache.get(spki);
  if (!hit) {
    hit = link.ctx.backend.importPublic(spki).then((r) => (r.ok ? r.key : undefined));
    cache.set(spki, hit);
  }
  return await hit;
}

/** The first frame of an inbound connection decides whether it is a user or a server link (§2). */
export class FirstFrameHandler implements FrameHandler {
  readonly role = "pending";
  constructor(private readonly link: Link) {}

  async handle(raw: string, at_ms: number): Promise<void> {
    const frame = this.link.parse(raw, at_ms, SERVER_FRAME_BYTES_MAX);
    if (frame === undefined) return;
    if (frame.type === "USER_HELLO" || frame.type === "LOGIN_START") {
      this.link.handler = new UserLinkHandler(this.link);
    } else if (HELLO_TYPES.has(frame.type)) this.link.handler = new ServerLinkHandler(this.link);
    else {
      const detail =
        `first frame must be USER_HELLO, SERVER_HELLO_LINK or SERVER_HELLO_JOIN, got ${frame.type}`;
      return this.link.refuse({ raw, at_ms, code: "UNKNOWN_TYPE", detail, to: frame.from });
    }
    await this.link.handler.handle(raw, at_ms);
  }
}
