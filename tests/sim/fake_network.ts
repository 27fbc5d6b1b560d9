/**
 * The simulated world's clock, dice and network (TigerBeetle's `packet_simulator`, reshaped for
 * WebSocket links). Everything moves only when the {@linkcode Scheduler} pops its next event, and
 * every choice comes from one {@linkcode Dice} seeded by the run's seed, so a seed replays a run
 * exactly.
 *
 * The fault model. SOCP runs over WebSockets, that is over TCP, so a live link never loses,
 * duplicates or reorders a message: each direction of a {@linkcode Connection} is a FIFO queue
 * and its delivery times never decrease. The faults are the ones TCP links really have:
 *
 * - **Delay and reordering across links.** Each message waits a random one-way delay (a minimum
 *   plus an exponential tail), so messages on different links overtake each other.
 * - **Loss is link death** (`packet_loss_probability`, per message on a server link, and
 *   `link_break_probability`, per chaos tick on any link): the connection is cut, whatever was in
 *   flight either way is gone, and each end learns of it after its own random delay (a reset
 *   arrives at once, a dead peer only shows on the next write or the heartbeat timeout).
 * - **Duplication is replay** (`packet_replay_probability`, per message on a server link): the
 *   sending server sends the same frame again a little later on the same link, behind whatever
 *   it sent in the meantime, as a peer that retransmits at the application level, or whose seen
 *   cache forgot a frame it relays, would. Users never replay, and a server never replays its
 *   own USER_ADVERTISE / USER_REMOVE: those are its word on its own users, and repeating an old
 *   one would be that server contradicting itself, not a network fault (`sim_server.ts`).
 *   Frames also arrive more than once without any fault, one copy per gossip path.
 * - **Partitions** (`partition_probability`): two servers, or one server and all the others,
 *   cannot reach each other for a while. Messages between them wait in the queues (TCP keeps
 *   retransmitting); dials between them time out. A partition longer than the heartbeat timeout
 *   makes each end close the link on its own (`LINK_TIMEOUT_MS`, checked every heartbeat
 *   interval, as `ServerLinkHandler` does); a shorter one only delays what was in flight.
 * - **Clogging** (`path_clog_probability`): one direction between two servers stalls for less
 *   than the heartbeat timeout; nothing is lost.
 * - **Graceful close**: what an end sent before closing still reaches the peer, followed by the
 *   close; what was on its way to the closing end is dropped (it no longer reads).
 *
 * Partitions and clogs apply to server pairs; user links only break. HEARTBEAT frames are not
 * sent: the Router ignores them, and what they are for (noticing a silent link) is modelled by
 * the timeout above.
 * @module
 */
import { type Clock, type Random, SeededRandom, type TimerId } from "../../lib/world.ts";
import { DIAL_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, LINK_TIMEOUT_MS } from "../../protocol/limits.ts";

/** The fault menu and the timing of the simulated network. */
export interface NetworkOptions {
  /** Smallest one-way delay of a message, in virtual ms. */
  one_way_delay_min_ms: number;
  /** Mean of the exponential part of a one-way delay, in virtual ms. */
  one_way_delay_mean_ms: number;
  /** Per message sent on a server link: the link dies then and there. */
  packet_loss_probability: number;
  /** Per message sent on a server link: the sender sends it again later on the same link. */
  packet_replay_probability: number;
  /** Longest wait before a replayed frame is sent again, in ms. */
  replay_delay_max_ms: number;
  /** Per chaos tick: a partition starts (between two servers, or around one server). */
  partition_probability: number;
  /** Of the partitions, the share that isolates one server from all the others. */
  partition_isolate_probability: number;
  partition_duration_min_ms: number;
  partition_duration_max_ms: number;
  /** Per chaos tick: one direction between two servers stalls. */
  path_clog_probability: number;
  /** Longest clog, in ms; kept below the heartbeat timeout, so a clog never kills a link. */
  path_clog_duration_max_ms: number;
  /** Per chaos tick: one live link (server or user) is cut. */
  link_break_probability: number;
  /** Longest time an end takes to notice a cut link, in ms. */
  close_notice_delay_max_ms: number;
  /** Silence after which a server link end gives up (§3.4). */
  link_timeout_ms: number;
  /** How often an end checks for silence. */
  heartbeat_interval_ms: number;
  /** How long a dial into a partition takes to fail. */
  dial_timeout_ms: number;
}

/** A network with every fault of the menu switched on at a moderate rate. */
export const DEFAULT_NETWORK_OPTIONS: NetworkOptions = {
  one_way_delay_min_ms: 1,
  one_way_delay_mean_ms: 40,
  packet_loss_probability: 0.002,
  packet_replay_probability: 0.02,
  replay_delay_max_ms: 3_000,
  partition_probability: 0.03,
  partition_isolate_probability: 0.3,
  partition_duration_min_ms: 2_000,
  partition_duration_max_ms: 120_000,
  path_clog_probability: 0.03,
  path_clog_duration_max_ms: 25_000,
  link_break_probability: 0.02,
  close_notice_delay_max_ms: 3_000,
  link_timeout_ms: LINK_TIMEOUT_MS,
  heartbeat_interval_ms: HEARTBEAT_INTERVAL_MS,
  dial_timeout_ms: DIAL_TIMEOUT_MS,
};

/** Every random choice of a run, drawn from one seeded stream. */
export class Dice {
  readonly #random: SeededRandom;

  constructor(seed: bigint) {
    this.#random = new SeededRandom(seed);
  }

  /** A float in [0, 1). */
  float(): number {
    return this.#random.float();
  }

  /** The same stream, for code that takes a {@linkcode Random} (the server's peer manager). */
  get random(): Random {
    return this.#random;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.#random.float() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.#random.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Dice.pick from an empty array");
    return items[this.int(items.length)]!;
  }

  /** An exponentially distributed duration with the given mean, rounded to whole ms. */
  exponential(mean_ms: number): number {
    return Math.round(-Math.log(1 - this.#random.float()) * mean_ms);
  }

  /** A UUID v4 from the seeded stream. */
  uuid(): string {
    return this.#random.uuid();
  }
}

/** What an event is, for a stuck run's report: a function when it costs to say. */
export type Label = string | (() => string);

interface Scheduled {
  at: number;
  seq: number;
  label: Label;
  run: () => void;
}

/** Virtual time: a priority queue of events, run earliest first (ties in scheduling order). */
export class Scheduler {
  #now: number;
  #seq = 0;
  #heap: Scheduled[] = [];

  constructor(start_ms: number) {
    this.#now = start_ms;
  }

  /** The virtual time, in Unix ms. */
  get now(): number {
    return this.#now;
  }

  /** Events waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Runs `run` at `at_ms` (never in the past). */
  at(at_ms: number, label: Label, run: () => void): void {
    const event = { at: Math.max(at_ms, this.#now), seq: this.#seq++, label, run };
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Runs `run` after `delay_ms`. */
  after(delay_ms: number, label: Label, run: () => void): void {
    this.at(this.#now + delay_ms, label, run);
  }

  /**
   * The virtual time as a {@linkcode Clock}, for server code that takes one (the peer
   * manager); its timers carry `label`. A cleared timer still pops, as a step that does nothing.
   */
  clock(label: string): Clock {
    const live = new Set<number>();
    let next = 0;
    return {
      now: () => this.#now,
      setTimeout: (fn: () => void, ms: number): TimerId => {
        const id = ++next;
        live.add(id);
        this.after(Math.max(0, ms), label, () => {
          if (live.delete(id)) fn();
        });
        return id;
      },
      clearTimeout: (id: TimerId) => void live.delete(id as number),
    };
  }

  /** Pops the earliest event, moves time to it and runs it; false when idle. */
  next(): boolean {
    const heap = this.#heap;
    const top = heap[0];
    if (top === undefined) return false;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    this.#now = top.at;
    top.run();
    return true;
  }

  /** Labels of the waiting events, earliest first (for failure reports). */
  pending(limit: number): string[] {
    return [...this.#heap].sort((a, b) => (before(a, b) ? -1 : 1)).slice(0, limit).map((e) =>
      `${e.at - this.#now}ms ${typeof e.label === "string" ? e.label : e.label()}`
    );
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Which end of a connection: 0 opened it (a dialling server, a user), 1 accepted it. */
export type EndIndex = 0 | 1;

type Item = { kind: "text"; text: string; at: number } | {
  kind: "close";
  reason: string;
  at: number;
};

/** One end of a connection and the queue of what travels towards it. */
export interface ConnectionEnd {
  /** A server id, or a user id for end 0 of a user connection. */
  node: string;
  /** "closing": this end stopped reading and writing; it is told it is closed soon. */
  state: "open" | "closing" | "closed";
  /** What is in flight towards this end, in order. */
  inbound: Item[];
  /** Delivery time of the last item queued towards this end (FIFO: never decreases). */
  last_at: number;
  /** Generation of the delivery event in the scheduler, 0 when none is scheduled. */
  pump: number;
}

/** A simulated WebSocket: two ends, two FIFO directions. */
export interface Connection {
  id: string;
  kind: "server" | "user";
  ends: [ConnectionEnd, ConnectionEnd];
  /** Cut: nothing more gets through either way. */
  broken: boolean;
}

/** Where the network hands what it delivers. */
export interface NetworkHandlers {
  receive(conn: Connection, end: EndIndex, text: string): void;
  closed(conn: Connection, end: EndIndex, reason: string): void;
}

/** Counters for the run report. */
export interface NetworkStats {
  messages: number;
  /** Of the messages, those between two servers. */
  server_messages: number;
  replays: number;
  losses: number;
  cuts: number;
  partitions: number;
  clogs: number;
  timeouts: number;
}

/** The simulated network between servers and users. */
export class FakeNetwork {
  /** Random faults (loss, replay) happen only while true; the world turns them off to heal. */
  faults = true;
  readonly stats: NetworkStats = {
    messages: 0,
    server_messages: 0,
    replays: 0,
    losses: 0,
    cuts: 0,
    partitions: 0,
    clogs: 0,
    timeouts: 0,
  };
  readonly connections = new Map<string, Connection>();
  #next = 1;
  #pumps = 1;
  /** "a>b" -> until when the direction from server a to server b is clogged. */
  #clogs = new Map<string, number>();
  /** "a|b" (sorted) -> the partition between servers a and b. */
  #partitions = new Map<string, { until: number; epoch: number }>();
  /** No partition or clog lasts past this: before it, nothing is blocked (the common case). */
  #blockedAllUntil = 0;
  #epochs = 0;

  constructor(
    readonly scheduler: Scheduler,
    readonly dice: Dice,
    readonly options: NetworkOptions,
    readonly handlers: NetworkHandlers,
    readonly trace: (line: string) => void,
  ) {}

  /** Opens a connection from `initiator` to `acceptor`; both ends are open at once. */
  open(kind: Connection["kind"], initiator: string, acceptor: string): Connection {
    const end = (node: string): ConnectionEnd => ({
      node,
      state: "open",
      inbound: [],
      last_at: 0,
      pump: 0,
    });
    const conn: Connection = {
      id: `c${this.#next++}`,
      kind,
      ends: [end(initiator), end(acceptor)],
      broken: false,
    };
    this.connections.set(conn.id, conn);
    return conn;
  }

  /** Sends a text message from one end; dropped if that end or the link is no longer open. */
  send(conn: Connection, from: EndIndex, text: string, replay = false): void {
    if (conn.broken || conn.ends[from].state !== "open") return;
    const to = other(from);
    if (conn.kind === "server" && this.faults) {
      if (this.dice.chance(this.options.packet_loss_probability)) {
        this.stats.losses++;
        this.cut(conn, "packet loss: the link died");
        return;
      }
      if (replay && this.dice.chance(this.options.packet_replay_probability)) {
        this.stats.replays++;
        const delay = this.dice.int(this.options.replay_delay_max_ms);
        this.scheduler.after(
          delay,
          `replay on ${conn.id}`,
          () => this.send(conn, from, text, false),
        );
      }
    }
    this.stats.messages++;
    if (conn.kind === "server") this.stats.server_messages++;
    this.#push(conn, to, { kind: "text", text, at: 0 });
  }

  /**
   * Closes one end gracefully: the peer still gets what was sent, then the close; the closing
   * end is told it is closed as a separate step, as the real link's `onDown` runs after a flush.
   */
  close(conn: Connection, from: EndIndex, reason: string): void {
    const end = conn.ends[from];
    if (end.state !== "open") return;
    end.state = "closing";
    end.inbound.length = 0;
    const peer = conn.ends[other(from)];
    if (!conn.broken && peer.state === "open") {
      this.#push(conn, other(from), { kind: "close", reason, at: 0 });
    }
    this.scheduler.after(
      0,
      `closed ${conn.id}@${end.node}`,
      () => this.#closeEnd(conn, from, reason),
    );
  }

  /** Cuts a connection abruptly: everything in flight is lost; each end notices on its own. */
  cut(conn: Connection, reason: string): void {
    if (conn.broken) return;
    conn.broken = true;
    this.stats.cuts++;
    this.trace(`net: cut ${conn.id} ${conn.ends[0].node}<->${conn.ends[1].node}: ${reason}`);
    for (const index of [0, 1] as const) {
      const end = conn.ends[index];
      end.inbound.length = 0;
      if (end.state !== "open") continue;
      end.state = "closing";
      const delay = this.dice.int(this.options.close_notice_delay_max_ms + 1);
      this.scheduler.after(
        delay,
        `cut noticed ${conn.id}@${end.node}`,
        () => this.#closeEnd(conn, index, reason),
      );
    }
  }

  /** True when servers `a` and `b` can reach each other both ways now. */
  reachable(a: string, b: string): boolean {
    const now = this.scheduler.now;
    return this.#blockedUntil(a, b) <= now && this.#blockedUntil(b, a) <= now;
  }

  /** Starts (or extends) a partition between servers `a` and `b`. */
  partition(a: string, b: string, duration_ms: number): void {
    const key = pairKey(a, b);
    const now = this.scheduler.now;
    const until = now + duration_ms;
    const existing = this.#partitions.get(key);
    this.#blockedAllUntil = Math.max(this.#blockedAllUntil, until);
    if (existing && existing.until > now) {
      existing.until = Math.max(existing.until, until);
      return;
    }
    const epoch = ++this.#epochs;
    this.#partitions.set(key, { until, epoch });
    this.stats.partitions++;
    this.trace(`net: partition ${a} | ${b} for ${duration_ms} ms`);
    // Each end of a link across the partition hears nothing more; after the heartbeat timeout
    // it closes the link on its own (the close cannot cross the partition either).
    for (const conn of this.connections.values()) {
      if (conn.kind !== "server" || pairKey(conn.ends[0].node, conn.ends[1].node) !== key) continue;
      for (const index of [0, 1] as const) {
        const check = this.options.link_timeout_ms +
          this.dice.int(this.options.heartbeat_interval_ms);
        this.scheduler.after(check, `timeout check ${conn.id}@${conn.ends[index].node}`, () => {
          const p = this.#partitions.get(key);
          if (p?.epoch !== epoch || p.until <= this.scheduler.now) return;
          if (conn.ends[index].state !== "open") return;
          this.stats.timeouts++;
          this.trace(`net: ${conn.ends[index].node} times out ${conn.id}`);
          this.close(conn, index, `4000 TIMEOUT: no frame for ${check} ms`);
        });
      }
    }
  }

  /** Stalls the direction from server `a` to server `b` (shorter than the link timeout). */
  clog(a: string, b: string, duration_ms: number): void {
    const key = `${a}>${b}`;
    const until = this.scheduler.now +
      Math.min(duration_ms, this.options.path_clog_duration_max_ms);
    this.#clogs.set(key, Math.max(this.#clogs.get(key) ?? 0, until));
    this.#blockedAllUntil = Math.max(this.#blockedAllUntil, until);
    this.stats.clogs++;
    this.trace(`net: clog ${a} -> ${b} for ${duration_ms} ms`);
  }

  /** Ends every partition and clog now and restarts the stalled queues. */
  healAll(): void {
    const now = this.scheduler.now;
    for (const p of this.#partitions.values()) p.until = Math.min(p.until, now);
    for (const [key, until] of this.#clogs) this.#clogs.set(key, Math.min(until, now));
    this.#blockedAllUntil = now;
    for (const conn of this.connections.values()) {
      for (const index of [0, 1] as const) {
        const end = conn.ends[index];
        if (end.inbound.length > 0) this.#schedule(conn, index, now);
      }
    }
    this.trace("net: healed");
  }

  /** Messages in flight on all connections. */
  inFlight(): number {
    let n = 0;
    for (const conn of this.connections.values()) {
      n += conn.ends[0].inbound.length + conn.ends[1].inbound.length;
    }
    return n;
  }

  #delay(): number {
    return this.options.one_way_delay_min_ms +
      this.dice.exponential(this.options.one_way_delay_mean_ms);
  }

  #blockedUntil(from: string, to: string): number {
    if (this.#blockedAllUntil <= this.scheduler.now) return 0;
    return Math.max(
      this.#clogs.get(`${from}>${to}`) ?? 0,
      this.#partitions.get(pairKey(from, to))?.until ?? 0,
    );
  }

  #push(conn: Connection, to: EndIndex, item: Item): void {
    const end = conn.ends[to];
    item.at = Math.max(end.last_at, this.scheduler.now + this.#delay());
    end.last_at = item.at;
    end.inbound.push(item);
    if (end.pump === 0) this.#schedule(conn, to, item.at);
  }

  /** (Re)schedules delivery of the head of the queue towards `to`. */
  #schedule(conn: Connection, to: EndIndex, at: number): void {
    const end = conn.ends[to];
    const pump = this.#pumps++;
    end.pump = pump;
    this.scheduler.at(at, () => `deliver ${conn.id}->${end.node}`, () => {
      if (end.pump === pump) this.#deliver(conn, to);
    });
  }

  #deliver(conn: Connection, to: EndIndex): void {
    const end = conn.ends[to];
    end.pump = 0;
    if (end.state !== "open") {
      end.inbound.length = 0;
      return;
    }
    const head = end.inbound[0];
    if (head === undefined) return;
    const now = this.scheduler.now;
    if (head.at > now) return this.#schedule(conn, to, head.at);
    if (conn.kind === "server") {
      const until = this.#blockedUntil(conn.ends[other(to)].node, end.node);
      if (until > now) return this.#schedule(conn, to, until + this.#delay());
    }
    end.inbound.shift();
    const next = end.inbound[0];
    if (next !== undefined) this.#schedule(conn, to, Math.max(next.at, now));
    if (head.kind === "text") this.handlers.receive(conn, to, head.text);
    else this.#closeEnd(conn, to, `closed by peer (${head.reason})`);
  }

  #closeEnd(conn: Connection, index: EndIndex, reason: string): void {
    const end = conn.ends[index];
    if (end.state === "closed") return;
    end.state = "closed";
    end.inbound.length = 0;
    if (conn.ends[other(index)].state === "closed") this.connections.delete(conn.id);
    this.handlers.closed(conn, index, reason);
  }
}

function other(end: EndIndex): EndIndex {
  return end === 0 ? 1 : 0;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
