/**
 * One simulated server: the Router's pure core (`decide`, `evolve`, `checkInvariants`) and the
 * server's own peer manager (`actors/server/peers.ts`, on the virtual clock, dialling simulated
 * connections) inside a small shell that does what `actors/server/server.ts`, `link.ts`,
 * `server_link.ts`, `user_link.ts` and `bootstrap.ts` do, minus sockets, crypto and SQLite. Frames are "signed" with
 * `sig: "x"` and trusted; a key is any string (`"K-u3"`), and the key a frame carries is passed
 * to the Router as is. What the real shell refuses before the Router (a first frame of the
 * wrong type, a frame from an unpinned server) is refused here too, with the same ERROR and
 * the same strike count, because that changes what the Router gets to see.
 * @module
 */
import { serialise } from "../../actors/links/frame_signer.ts";
import { decide } from "../../actors/router/router_decide.ts";
import type { RouterConfig } from "../../actors/router/router_config.ts";
import type {
  Decision,
  Effect,
  PeerEntry,
  RouterInput,
  ServerHelloFrame,
  UnsignedFrame,
} from "../../actors/router/router_messages.ts";
import { errorFrame } from "../../actors/router/router_messages.ts";
import { OUR_SERVER_FEATURES } from "../../actors/router/router_delivery.ts";
import { featuresOf } from "../../actors/router/router_federation.ts";
import {
  checkInvariants,
  evolve,
  initialRouterState,
  type RouterState,
} from "../../actors/router/router_state.ts";
import {
  type ErrorCode,
  type Frame,
  LINK_BAD_FRAMES_MAX,
  parseFrame,
  RECONNECT_BACKOFF_BASE_MS,
  RECONNECT_BACKOFF_MAX_MS,
  SERVER_FRAME_BYTES_MAX,
  USER_FRAME_BYTES_MAX,
} from "../../protocol/mod.ts";
import type { RouterEvent } from "../../store/events.ts";
import type { Logger } from "../../lib/log.ts";
import { type DialOutcome, Peers } from "../../actors/server/peers.ts";
import type { Connection, Dice, EndIndex, FakeNetwork, Scheduler } from "./fake_network.ts";

/** What a server needs from the world around it. */
export interface ServerHost {
  readonly dice: Dice;
  readonly scheduler: Scheduler;
  readonly network: FakeNetwork;
  /** The server every other one joins through. */
  readonly introducer: SimServer;
  server(id: string): SimServer | undefined;
  /** A USER_HELLO was accepted: `user` is now local on `server`. */
  userAccepted(user: string, server: string): void;
  /** Records a verdict for the run report. */
  count(what: string): void;
  /**
   * This step changed `server`: its links (checked whole), or by events only its entries for
   * the users and linked servers they name.
   */
  touch(server: SimServer, named?: { users: string[]; peers: string[] }): void;
  /** Adds a line to the run's trace; a function when the line costs to make. */
  trace(line: string | (() => string)): void;
  /** Stops the run with a broken invariant. */
  fail(invariant: string): never;
}

/** What a link is to this server, as its first frame decided (§2). */
export type LinkRole = "first" | "user" | "server" | "joining";

/** This server's end of a connection. */
export interface LinkEnd {
  conn: Connection;
  end: EndIndex;
  role: LinkRole;
  /** A server link whose hello was handled (ours went out, or theirs came in). */
  established: boolean;
  /** The user id of a user link, from its USER_HELLO. */
  user?: string;
  /** The Router accepted this user link's USER_HELLO. */
  hello_accepted: boolean;
  strikes: number;
}

/** One server of the simulation. */
export class SimServer {
  readonly state: RouterState;
  /** Every event the Router produced, in order: folding it must give `state` again. */
  readonly log: RouterEvent[] = [];
  readonly config: RouterConfig;
  /** Link id (the connection id) -> this server's end. Removed once the Router heard it closed. */
  readonly links = new Map<string, LinkEnd>();
  /** user -> the open user links that said hello as that user (for the step checker). */
  readonly user_links = new Map<string, Set<LinkEnd>>();
  /** Listening and serving users (the real server accepts once its Router runs). */
  accepting = false;
  /** Welcomed by the introducer (always true for the introducer itself). */
  joined = false;
  readonly host_name: string;
  readonly port = 8765;
  /** The real peer manager: redials lost servers, with its backoff and its hastening. */
  readonly peers: Peers;
  #join = { failures: 0, attempt: 0 };

  constructor(
    readonly world: ServerHost,
    readonly index: number,
    readonly id: string,
    readonly key: string,
    /** The features it announces: ours, or a peer's without `gossip_direct` (the spec's gossip). */
    readonly features: readonly string[] = OUR_SERVER_FEATURES,
  ) {
    this.host_name = `10.0.0.${index + 1}`;
    this.state = initialRouterState(id);
    this.config = {
      join_policy: "open",
      pinned_keys: new Set(),
      advertise: { host: this.host_name, port: this.port },
      features,
    };
    this.peers = new Peers({
      clock: world.scheduler.clock(`redial ${id}`),
      random: world.dice.random,
      log: traceLogger(world, id),
      state: () => this.state,
      backoffBaseMs: RECONNECT_BACKOFF_BASE_MS,
      backoffMaxMs: RECONNECT_BACKOFF_MAX_MS,
      connect: (server_id, _addr, done) => this.#connect(server_id, done),
    });
  }

  /** Starts the Router; the introducer serves at once, the others join first. */
  start(): void {
    this.#apply([{
      type: "ServerStarted",
      server_id: this.id,
      server_pub: this.key,
      at_ms: this.world.scheduler.now,
      build: "sim",
    }]);
    if (this.world.introducer === this) {
      this.accepting = true;
      this.joined = true;
    } else {
      this.#tryJoin();
    }
  }

  /** Feeds one input to the Router, applies its events and performs its effects. */
  post(input: RouterInput): Decision {
    const { world } = this;
    let decision: Decision;
    try {
      decision = decide(this.state, input, this.config);
    } catch (e) {
      return world.fail(`decide() threw on ${input.type} at ${this.id}: ${errorText(e)}`);
    }
    this.#apply(decision.events);
    for (const e of decision.events) if (e.type === "ServerLinked") this.peers.linked(e.server_id);
    const { accepted, reason } = decision.verdict;
    world.count(`${input.type} ${accepted ? "accepted" : "dropped"}`);
    world.trace(() =>
      `${this.id} <- ${describe(input)}: ${accepted ? "ok" : "DROP"} ${reason}${
        decision.events.length ? ` [${decision.events.map((e) => e.type).join(",")}]` : ""
      }`
    );
    for (const effect of decision.effects) this.#perform(effect);
    return decision;
  }

  /** A new inbound connection: its first frame will say what it is. */
  accept(conn: Connection): void {
    this.world.touch(this);
    this.links.set(conn.id, {
      conn,
      end: 1,
      role: "first",
      established: false,
      hello_accepted: false,
      strikes: 0,
    });
  }

  /** The network delivered a message on one of our links. */
  receive(conn: Connection, text: string): void {
    const link = this.links.get(conn.id);
    if (link === undefined) return;
    const frame = conn.kind === "server" ? parseServerFrame(this.world, text) : parsed(
      this.world,
      text,
      link.role === "user" ? USER_FRAME_BYTES_MAX : SERVER_FRAME_BYTES_MAX,
    );
    if (link.role === "first") {
      // A frame changes what the step checker sees only by the Router's events, or this.
      this.world.touch(this);
      if (frame.type === "USER_HELLO") link.role = "user";
      else if (isServerHello(frame)) link.role = "server";
      else return this.#refuse(link, frame, "UNKNOWN_TYPE", `first frame ${frame.type}`);
    }
    switch (link.role) {
      case "user":
        return this.#fromUser(link, frame, text);
      case "server":
        return this.#fromServer(link, frame, text);
      case "joining":
        return this.#welcomed(link, frame, text);
    }
  }

  /** The network says one of our links is closed: tell the Router (`down()` in server.ts). */
  closed(conn: Connection, reason: string): void {
    const link = this.links.get(conn.id);
    if (link === undefined) return;
    this.world.touch(this);
    this.links.delete(conn.id);
    if (link.user !== undefined) this.user_links.get(link.user)?.delete(link);
    if (link.role === "joining") return this.#joinFailed(`join link closed: ${reason}`);
    this.post({ type: "LinkClosed", link: conn.id, reason, at_ms: this.world.scheduler.now });
  }

  #apply(events: RouterEvent[]): void {
    if (events.length === 0) return;
    const users = [...userIds(events)];
    const peers: string[] = [];
    for (const e of events) {
      if (e.type === "ServerLinked" || e.type === "ServerUnlinked") peers.push(e.server_id);
      // A restart clears every link of the state: check the server whole.
      if (e.type === "ServerStarted") this.world.touch(this);
    }
    this.world.touch(this, { users, peers });
    for (const event of events) {
      this.log.push(event);
      try {
        evolve(this.state, event);
      } catch (e) {
        this.world.fail(`evolve() threw on ${event.type} at ${this.id}: ${errorText(e)}`);
      }
    }
    try {
      // Only the users these events touched can have become inconsistent (fold checks all).
      checkInvariants(
        this.state,
        events.some((e) => e.type === "ServerStarted") ? undefined : users,
      );
    } catch (e) {
      this.world.fail(`checkInvariants() failed at ${this.id}: ${errorText(e)}`);
    }
  }

  #perform(effect: Effect): void {
    const { network } = this.world;
    switch (effect.type) {
      case "Send":
      case "Relay":
      case "Close": {
        const link = this.links.get(effect.link);
        if (link === undefined) return;
        if (effect.type === "Send") {
          network.send(link.conn, link.end, sealOnce(effect.frame), replayable(effect.frame.type));
        } else if (effect.type === "Relay") network.send(link.conn, link.end, effect.text, true);
        else network.close(link.conn, link.end, `${effect.code} ${effect.reason}`);
        return;
      }
      case "Dial":
        return this.peers.dial(effect.server_id);
      default:
        // Effects outside presence and DMs (the public channel's rekey) are not simulated.
        this.world.count(`effect ${effect.type} not simulated`);
    }
  }

  /** `user_link.ts`: the hello, then frames that must come from that user. */
  #fromUser(link: LinkEnd, frame: Frame, raw: string): void {
    const at_ms = this.world.scheduler.now;
    if (link.user === undefined) {
      if (frame.type !== "USER_HELLO") {
        return this.#refuse(link, frame, "UNKNOWN_TYPE", "first frame must be USER_HELLO");
      }
      link.user = frame.from;
      let mine = this.user_links.get(link.user);
      if (mine === undefined) this.user_links.set(link.user, mine = new Set());
      mine.add(link);
      const d = this.post({
        type: "UserHello",
        link: link.conn.id,
        frame,
        pubkey: frame.payload.pubkey,
        raw,
        at_ms,
      });
      link.hello_accepted = d.verdict.accepted;
      if (d.verdict.accepted) this.world.userAccepted(frame.from, this.id);
      return;
    }
    if (frame.type === "USER_HELLO") {
      return this.#refuse(link, frame, "NAME_IN_USE", "USER_HELLO was already sent");
    }
    if (frame.type === "CTRL_CLOSE") frame.from = link.user;
    if (frame.from !== link.user) {
      return this.#refuse(link, frame, "BAD_KEY", `"from" must be ${link.user}`);
    }
    this.post({ type: "FromUser", link: link.conn.id, frame, raw, at_ms });
  }

  /** `server_link.ts`: the peer's hello on an inbound link, then frames from pinned servers. */
  #fromServer(link: LinkEnd, frame: Frame, raw: string): void {
    const at_ms = this.world.scheduler.now;
    if (!link.established) {
      if (!isServerHello(frame)) {
        this.#refuse(link, frame, "UNKNOWN_TYPE", `first frame ${frame.type}`);
        return this.world.network.close(link.conn, link.end, "1008 no server hello");
      }
      link.established = true;
      this.post({
        type: "ServerHello",
        link: link.conn.id,
        frame,
        pubkey: frame.payload.pubkey,
        fresh_id: this.world.dice.uuid(),
        raw,
        at_ms,
      });
      return;
    }
    if (frame.sig === "") {
      return this.#refuse(link, frame, "INVALID_SIG", `unsigned ${frame.type}`);
    }
    // The real link verifies with the `from` server's pinned key; only an announce may bring
    // its own key. Without a pinned key the frame is refused before the Router sees it.
    if (!this.state.server_keys.has(frame.from) && frame.type !== "SERVER_ANNOUNCE") {
      this.world.count(`refused ${frame.type} from unpinned server`);
      return this.#refuse(
        link,
        frame,
        "INVALID_SIG",
        `${frame.type} from unknown server ${frame.from}: no pinned key to verify it`,
      );
    }
    this.world.count(`server frame ${frame.type}`);
    this.post({
      type: "FromServer",
      link: link.conn.id,
      frame,
      pubkey: carriedKey(frame),
      raw,
      at_ms,
    });
  }

  /** `link.refuse`: answer with ERROR (never to an ERROR) and count a strike. */
  #refuse(link: LinkEnd, frame: Frame, code: ErrorCode, detail: string): void {
    const now = this.world.scheduler.now;
    this.world.trace(`${this.id} refuses ${frame.type} on ${link.conn.id}: ${code} ${detail}`);
    this.world.count(`shell refused ${code}`);
    if (frame.type !== "ERROR") {
      const error = errorFrame(this.id, frame.from || "unknown", now, code, detail);
      this.world.network.send(link.conn, link.end, seal(error));
    }
    if (++link.strikes >= LINK_BAD_FRAMES_MAX) {
      this.world.network.close(link.conn, link.end, "1008 too many bad frames");
    }
  }

  #backoff(failures: number): number {
    const exp = Math.min(
      RECONNECT_BACKOFF_MAX_MS,
      RECONNECT_BACKOFF_BASE_MS * 2 ** Math.min(failures, 30),
    );
    return Math.round(exp * (0.5 + this.world.dice.float() / 2));
  }

  /** A connect takes one round trip; a partition makes it time out. */
  #handshake_ms(): number {
    const { one_way_delay_min_ms, one_way_delay_mean_ms } = this.world.network.options;
    return 2 * one_way_delay_min_ms + this.world.dice.exponential(2 * one_way_delay_mean_ms);
  }

  /** The peer manager's dial: a connect that takes a round trip, or times out across a partition. */
  #connect(server_id: string, done: (outcome: DialOutcome) => void): void {
    const { network, scheduler } = this.world;
    if (!network.reachable(this.id, server_id)) {
      return scheduler.after(
        network.options.dial_timeout_ms,
        `dial timeout ${this.id}->${server_id}`,
        () => done({ ok: false, error: "timeout" }),
      );
    }
    scheduler.after(this.#handshake_ms(), `connect ${this.id}->${server_id}`, () => {
      const target = this.world.server(server_id);
      if (target === undefined || !target.accepting) return done({ ok: false, error: "refused" });
      if (!network.reachable(this.id, server_id)) return done({ ok: false, error: "partitioned" });
      // Nothing is open before `adopt`: a discarded dial leaves no connection behind.
      done({ ok: true, adopt: () => this.#adopt(target), discard: () => {} });
    });
  }

  /** `adoptOutbound` in server.ts: the new link says SERVER_HELLO_LINK and tells the Router. */
  #adopt(target: SimServer): void {
    const { network, scheduler } = this.world;
    const conn = this.#open(target, "server");
    network.send(conn, 0, seal(this.#hello("SERVER_HELLO_LINK", target.id)));
    this.post({ type: "ServerDialed", link: conn.id, server_id: target.id, at_ms: scheduler.now });
  }

  /** Opens a connection to `target`, our end in `role`. */
  #open(target: SimServer, role: LinkRole): Connection {
    const conn = this.world.network.open("server", this.id, target.id);
    target.accept(conn);
    this.world.touch(this);
    this.links.set(conn.id, {
      conn,
      end: 0,
      role,
      established: true,
      hello_accepted: false,
      strikes: 0,
    });
    return conn;
  }

  #hello(type: "SERVER_HELLO_LINK" | "SERVER_HELLO_JOIN", to: string): UnsignedFrame {
    return {
      type,
      from: this.id,
      to,
      ts: this.world.scheduler.now,
      payload: {
        host: this.host_name,
        port: this.port,
        pubkey: this.key,
        features: [...this.features],
      },
    };
  }

  /** `bootstrap.ts`: SERVER_HELLO_JOIN to the introducer; its welcome opens the link. */
  #tryJoin(): void {
    const { network, scheduler } = this.world;
    const introducer = this.world.introducer;
    const attempt = ++this.#join.attempt;
    const failed = (why: string) => {
      if (this.#join.attempt === attempt) this.#joinFailed(why);
    };
    if (!network.reachable(this.id, introducer.id)) {
      return scheduler.after(
        network.options.dial_timeout_ms,
        `join timeout ${this.id}`,
        () => failed("introducer unreachable"),
      );
    }
    scheduler.after(this.#handshake_ms(), `join connect ${this.id}`, () => {
      if (this.#join.attempt !== attempt) return;
      if (!introducer.accepting) return failed("introducer refused the connection");
      if (!network.reachable(this.id, introducer.id)) return failed("introducer unreachable");
      const conn = this.#open(introducer, "joining");
      const to = `${introducer.host_name}:${introducer.port}`;
      network.send(conn, 0, seal(this.#hello("SERVER_HELLO_JOIN", to)));
      scheduler.after(network.options.dial_timeout_ms, `welcome timeout ${this.id}`, () => {
        if (this.links.get(conn.id)?.role !== "joining") return;
        this.world.touch(this);
        this.links.delete(conn.id);
        network.close(conn, 0, "1000 no SERVER_WELCOME in time");
        failed("no welcome in time");
      });
    });
  }

  #joinFailed(why: string): void {
    this.#join.attempt++;
    this.#join.failures++;
    // A server whose join failed runs on its own and keeps trying (server.ts `retryJoin`).
    this.accepting = true;
    const delay = this.#backoff(this.#join.failures);
    this.world.trace(`${this.id} join failed (${why}); retry in ${delay} ms`);
    this.world.scheduler.after(delay, `join retry ${this.id}`, () => this.#tryJoin());
  }

  #welcomed(link: LinkEnd, frame: Frame, raw: string): void {
    const { network, scheduler } = this.world;
    if (frame.type !== "SERVER_WELCOME") {
      this.links.delete(link.conn.id);
      network.close(link.conn, link.end, `1000 introducer answered ${frame.type}`);
      return this.#joinFailed(`introducer answered ${frame.type}`);
    }
    if (frame.payload.assigned_id !== this.id) {
      this.world.fail(
        `introducer assigned ${frame.payload.assigned_id} to ${this.id}, whose id is not taken`,
      );
    }
    this.#join.attempt++;
    this.world.touch(this);
    link.role = "server";
    this.joined = true;
    this.accepting = true;
    const introducer = this.world.introducer;
    const servers: PeerEntry[] = [];
    for (const e of frame.payload.servers ?? frame.payload.clients ?? []) {
      const id = e.server_id ?? e.user_id;
      if (id !== undefined) {
        servers.push({
          server_id: id,
          host: e.host,
          port: e.port,
          pubkey: e.pubkey,
          features: featuresOf(e),
        });
      }
    }
    this.post({
      type: "Welcomed",
      link: link.conn.id,
      introducer: {
        server_id: frame.from,
        host: introducer.host_name,
        port: introducer.port,
        pubkey: introducer.key,
        features: featuresOf(frame.payload),
      },
      servers,
      raw,
      at_ms: scheduler.now,
    });
  }
}

/** The users whose presence `events` change. */
function* userIds(events: RouterEvent[]): Iterable<string> {
  for (const event of events) if ("user_id" in event) yield event.user_id;
}

/** The wire text of a frame the server built (`FrameSigner.seal`, with a fake signature). */
export function seal(frame: UnsignedFrame): string {
  return serialise(frame, "x");
}

/**
 * The Router sends one frame object to every peer (`toServers`): it is serialised once. A
 * frame object is never changed after the Router made it, so its text is the same each time.
 */
const sealed = new WeakMap<UnsignedFrame, string>();
function sealOnce(frame: UnsignedFrame): string {
  let text = sealed.get(frame);
  if (text === undefined) sealed.set(frame, text = seal(frame));
  return text;
}

/** Parses what a link delivered; a frame the simulation sent must parse. */
function parsed(world: Pick<ServerHost, "fail">, text: string, max: number): Frame {
  const result = parseFrame(text, max);
  if (!result.ok) world.fail(`got a malformed frame: ${result.detail}: ${text}`);
  return result.frame;
}

/**
 * Frames from a server by their text: one gossip frame reaches every server, and one presence
 * frame every local user, with the same text, and `parseFrame` gives the same frame for the
 * same text, so it is parsed once. The frame is
 * frozen, so a consumer that changed it would throw rather than change what the next server
 * sees. Bounded: forgotten wholesale past SIM_PARSE_CACHE_MAX texts.
 */
const SIM_PARSE_CACHE_MAX = 20_000;
const parsedServerFrames = new Map<string, Frame>();
export function parseServerFrame(world: Pick<ServerHost, "fail">, text: string): Frame {
  let frame = parsedServerFrames.get(text);
  if (frame === undefined) {
    frame = deepFreeze(parsed(world, text, SERVER_FRAME_BYTES_MAX));
    if (parsedServerFrames.size >= SIM_PARSE_CACHE_MAX) parsedServerFrames.clear();
    parsedServerFrames.set(text, frame);
  }
  return frame;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Which frames a server may send twice (`packet_replay_probability`): anything it relays (a
 * peer whose seen cache forgot a frame forwards it again) and what it sends itself, except its
 * own presence: a server's presence frames are its word on its own users, so a server that
 * repeated an old one would be contradicting itself, not suffering a network fault.
 */
function replayable(type: string): boolean {
  return type !== "USER_ADVERTISE" && type !== "USER_REMOVE";
}

function isServerHello(frame: Frame): frame is ServerHelloFrame {
  return frame.type === "SERVER_HELLO_LINK" || frame.type === "SERVER_HELLO_JOIN" ||
    frame.type === "SERVER_ANNOUNCE";
}

/** The key a server frame carries (`ServerLinkHandler.#carriedKey`), or "". */
function carriedKey(frame: Frame): string {
  let text: unknown;
  if (frame.type === "USER_ADVERTISE") {
    text = frame.payload.pubkey ??
      (frame.payload.meta as { pubkey?: unknown } | undefined)?.pubkey;
  } else if (frame.type === "SERVER_ANNOUNCE") text = frame.payload.pubkey;
  return typeof text === "string" ? text : "";
}

function describe(input: RouterInput): string {
  switch (input.type) {
    case "UserHello":
      return `UserHello ${input.frame.from} on ${input.link}`;
    case "FromUser":
    case "FromServer":
      return `${input.type} ${frameSummary(input.frame)} on ${input.link}`;
    case "ServerHello":
      return `ServerHello ${input.frame.type} ${input.frame.from} on ${input.link}`;
    case "ServerDialed":
      return `ServerDialed ${input.server_id} on ${input.link}`;
    case "Welcomed":
      return `Welcomed by ${input.introducer.server_id} on ${input.link}`;
    case "LinkClosed":
      return `LinkClosed ${input.link} (${input.reason})`;
    default:
      return input.type;
  }
}

/** A frame in one short line. */
export function frameSummary(frame: Frame): string {
  const p = frame.payload as Record<string, unknown>;
  const detail = frame.type === "USER_ADVERTISE" || frame.type === "USER_REMOVE"
    ? ` ${p.user_id}@${p.server_id}`
    : frame.type === "SERVER_DELIVER"
    ? ` for ${p.user_id} ${tokenText(p.ciphertext)}`
    : frame.type === "MSG_DIRECT" || frame.type === "USER_DELIVER"
    ? ` ${tokenText(p.ciphertext)}`
    : frame.type === "ERROR"
    ? ` ${p.code}`
    : "";
  return `${frame.type} ${frame.from}->${frame.to} ts=${frame.ts}${detail}`;
}

/** The readable form of a message token (`b64u("m<seq>")`). */
export function tokenText(ciphertext: unknown): string {
  if (typeof ciphertext !== "string") return "?";
  try {
    return atob(ciphertext.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    return ciphertext;
  }
}

/** The peer manager's log lines, into the run's trace. */
function traceLogger(world: ServerHost, id: string): Logger {
  const line = (message: string, fields?: Record<string, unknown>) =>
    world.trace(`${id} peers: ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
  return { debug: line, info: line, warn: line, error: line };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
