/**
 * The seeded simulation (ARCHITECTURE.md §4.6, TigerBeetle's VOPR): N servers and M users in one
 * process, over the {@linkcode FakeNetwork}, on a virtual clock. A run is a sequence of rounds;
 * each round is
 *
 * 1. **chaos**: `steps` scheduler steps with the seed's faults switched on; users connect, send
 *    DMs, leave, move to another server and come back at random;
 * 2. **heal**: partitions and clogs end, random faults stop, users stop churning (some offline
 *    users come back), and the world runs until nothing is left to do;
 * 3. **checks**: links form a full mesh and presence has converged; then every connected user
 *    DMs every other one, the world runs dry again, and each of those DMs must have arrived
 *    exactly once.
 *
 * The step checkers run after every scheduler step. The first broken invariant throws a
 * {@linkcode SimFailure} that names the seed, the step and the invariant; the same seed replays
 * the same run.
 * @module
 */
import { b64uEncode } from "../../protocol/mod.ts";
import { checkConverged, checkDelivery, checkProbes, checkReplay, checkStep } from "./checkers.ts";
import {
  type Connection,
  DEFAULT_NETWORK_OPTIONS,
  Dice,
  type EndIndex,
  FakeNetwork,
  type NetworkOptions,
  type NetworkStats,
  Scheduler,
} from "./fake_network.ts";
import { parseServerFrame, type ServerHost, SimServer, tokenText } from "./sim_server.ts";
import type { CheckedWorld, MessageRecord } from "./sim_types.ts";
import { OUR_SERVER_FEATURES } from "../../actors/router/router_delivery.ts";
import { FEATURE_GOSSIP_DIRECT } from "../../protocol/features.ts";

/** Everything a run depends on besides the code: the seed and these knobs. */
export interface SimOptions {
  seed: bigint;
  servers: number;
  users: number;
  /** Scheduler steps of chaos per round. */
  steps: number;
  rounds: number;
  network: NetworkOptions;
  /** Virtual ms between two fault draws. */
  chaos_tick_ms: number;
  /** The servers start (and join) within this many ms of the first. */
  server_start_spread_ms: number;
  /** Mean virtual ms between two actions of one user. */
  user_think_mean_ms: number;
  /** An offline user's action: connect to a random server. */
  user_connect_probability: number;
  /** An online user's action: a DM to a random other user (online or not). */
  user_send_probability: number;
  /** An online user's action: leave. */
  user_leave_probability: number;
  /** Of the leaves: connect again at once, to a random server (maybe the same one). */
  user_move_probability: number;
  /** Of the leaves: say CTRL_CLOSE rather than just close the socket. */
  user_ctrl_close_probability: number;
  /** An online user's action: LIST_REQUEST. */
  user_list_probability: number;
  /** When the network heals, an offline user comes back with this probability. */
  heal_reconnect_probability: number;
  /**
   * Which servers announce `gossip_direct`: all, none (the spec's forwarding everywhere), or a
   * mixed mesh (each server by a coin toss).
   */
  gossip_direct: "all" | "none" | "mixed";
  /** Steps the heal may take before the run counts as stuck; 0: {@linkcode settleBudget}. */
  settle_steps_max: number;
  /** Lines of trace kept for a failure report. */
  trace_lines: number;
}

/** What a server announces without `gossip_direct`: the spec's forwarding, our other features. */
const SPEC_FEATURES = OUR_SERVER_FEATURES.filter((f) => f !== FEATURE_GOSSIP_DIRECT);

/**
 * Servers without the flag in a mixed mesh, at most: each costs about 2n copies per gossip
 * frame (it relays to everyone, and flagged servers relay to it), so two keep a large mixed
 * world O(n) per event while every path still mixes both rules. A mesh with no flag at all
 * (the spec's forwarding, about n² copies per event) is picked only up to
 * {@linkcode SPEC_MESH_SERVERS_MAX} servers; `--gossip none` runs it at any size, slowly.
 */
const MIXED_UNFLAGGED_MAX = 2;
const SPEC_MESH_SERVERS_MAX = 10;

/**
 * The options of a seed. As in the VOPR, the seed picks the world as well as the run: the
 * counts of servers and users, and how hard each fault hits (from none to harsh), so that a
 * range of seeds covers calm networks, lossy ones and partition storms. `overrides` win.
 */
export function simOptions(seed: bigint, overrides: Partial<SimOptions> = {}): SimOptions {
  const s = seed < 0n ? -seed : seed;
  // A stream of its own, so that the world's dice are the same whatever is picked here.
  const menu = new Dice(seed ^ 0x5eed5eedn);
  const network: NetworkOptions = {
    ...DEFAULT_NETWORK_OPTIONS,
    one_way_delay_mean_ms: menu.pick([5, 40, 40, 200]),
    packet_loss_probability: menu.pick([0, 0.001, 0.002, 0.01]),
    packet_replay_probability: menu.pick([0, 0.02, 0.1]),
    partition_probability: menu.pick([0, 0.02, 0.03, 0.1]),
    path_clog_probability: menu.pick([0, 0.03, 0.1]),
    link_break_probability: menu.pick([0, 0.02, 0.05]),
    close_notice_delay_max_ms: menu.pick([100, 3_000]),
  };
  const options: SimOptions = {
    seed,
    servers: 3 + Number(s % 4n),
    users: 6 + Number((s / 4n) % 10n),
    steps: 3_000,
    rounds: 2,
    network: { ...network, ...overrides.network },
    chaos_tick_ms: 500,
    server_start_spread_ms: 3_000,
    user_think_mean_ms: menu.pick([500, 1_500, 4_000]),
    user_connect_probability: 0.5,
    user_send_probability: 0.75,
    user_leave_probability: menu.pick([0.05, 0.1, 0.25]),
    user_move_probability: 0.5,
    user_ctrl_close_probability: 0.3,
    user_list_probability: 0.05,
    heal_reconnect_probability: 0.7,
    gossip_direct: menu.pick(["all", "all", "none", "mixed"] as const),
    settle_steps_max: 0,
    trace_lines: 60,
    ...overrides,
    ...(overrides.network ? { network: { ...network, ...overrides.network } } : {}),
  };
  if (
    overrides.gossip_direct === undefined && options.gossip_direct === "none" &&
    options.servers > SPEC_MESH_SERVERS_MAX
  ) options.gossip_direct = "mixed";
  return options;
}

/**
 * A world without faults or chaos steps, every server with `gossip_direct`: the network only
 * delays, so what a test or a measurement scripts (a join, a partition) is all that happens.
 */
export function calmOptions(seed: bigint, servers: number, users: number): SimOptions {
  return simOptions(seed, {
    servers,
    users,
    steps: 0,
    rounds: 0,
    gossip_direct: "all",
    network: {
      ...DEFAULT_NETWORK_OPTIONS,
      packet_loss_probability: 0,
      packet_replay_probability: 0,
      partition_probability: 0,
      path_clog_probability: 0,
      link_break_probability: 0,
    },
  });
}

/** The command that replays a run. */
export function reproduce(options: SimOptions): string {
  const base = simOptions(options.seed);
  let flags = "";
  for (const key of ["steps", "servers", "users", "rounds"] as const) {
    if (options[key] !== base[key]) flags += ` --${key} ${options[key]}`;
  }
  return `SEED=${options.seed} deno run -A tests/sim/main.ts --seed ${options.seed}${flags}`;
}

/** A broken invariant, with what it takes to replay it. */
export class SimFailure extends Error {
  override name = "SimFailure";

  constructor(
    readonly options: SimOptions,
    readonly step: number,
    readonly phase: string,
    readonly invariant: string,
    readonly trace: string[],
  ) {
    super(
      `SEED=${options.seed} step ${step} (${phase}): ${invariant}\n` +
        `reproduce: ${reproduce(options)}`,
    );
  }
}

/** What a finished run did. */
export interface SimReport {
  seed: bigint;
  servers: number;
  users: number;
  steps: number;
  virtual_ms: number;
  messages_sent: number;
  messages_delivered: number;
  probes: number;
  /** The most steps one heal settle took, and its budget. */
  settle_steps: number;
  settle_budget: number;
  network: NetworkStats;
  counters: Map<string, number>;
}

/** A simulated user: a client that says hello, DMs, leaves and comes back. */
export class SimUser {
  state: "offline" | "connecting" | "online" | "leaving" = "offline";
  conn: Connection | undefined;
  server: SimServer | undefined;

  constructor(readonly world: World, readonly id: string, readonly key: string) {}

  /** Online, and the link is open at both ends: the truth presence must converge to. */
  get connected(): boolean {
    return this.state === "online" && this.conn !== undefined &&
      this.conn.ends[0].state === "open" && this.conn.ends[1].state === "open";
  }

  connect(server: SimServer): void {
    const { network, scheduler } = this.world;
    const conn = network.open("user", this.id, server.id);
    server.accept(conn);
    this.conn = conn;
    this.server = server;
    this.state = "connecting";
    this.world.trace(`${this.id} connects to ${server.id} on ${conn.id}`);
    this.#send({
      type: "USER_HELLO",
      from: this.id,
      to: server.id,
      ts: scheduler.now,
      payload: { pubkey: this.key, meta: { display_name: this.id.toUpperCase() } },
      sig: "x",
    });
  }

  /** Sends a DM with a fresh token as ciphertext. */
  sendTo(to: string, phase: MessageRecord["phase"]): void {
    const { scheduler } = this.world;
    const token = this.world.newToken();
    this.world.messages.set(token, {
      token,
      from: this.id,
      to,
      ts: scheduler.now,
      phase,
      round: this.world.round,
      deliveries: 0,
    });
    this.world.trace(`${this.id} sends ${tokenText(token)} to ${to}`);
    this.#send({
      type: "MSG_DIRECT",
      from: this.id,
      to,
      ts: scheduler.now,
      payload: { ciphertext: token, sender_pub: this.key, content_sig: "AAAA" },
      sig: "x",
    });
  }

  /** Leaves; true when the user is offline at once (it closed the socket itself). */
  leave(): boolean {
    const { dice, network } = this.world;
    const conn = this.conn!;
    if (dice.chance(this.world.options.user_ctrl_close_probability)) {
      this.world.trace(`${this.id} says CTRL_CLOSE on ${conn.id}`);
      this.#send({ type: "CTRL_CLOSE" });
      this.state = "leaving";
      return false;
    }
    this.world.trace(`${this.id} closes ${conn.id}`);
    network.close(conn, 0, "1000 bye");
    this.state = "offline";
    this.conn = undefined;
    this.server = undefined;
    return true;
  }

  list(): void {
    this.#send({
      type: "LIST_REQUEST",
      from: this.id,
      to: this.server!.id,
      ts: this.world.scheduler.now,
      payload: {},
      sig: "x",
    });
  }

  /** One random action (chaos only). */
  act(): void {
    const { dice, options } = this.world;
    const servers = this.world.servers.filter((s) => s.accepting);
    if (this.state === "offline") {
      if (servers.length > 0 && dice.chance(options.user_connect_probability)) {
        this.connect(dice.pick(servers));
      }
    } else if (this.state === "online") {
      const roll = dice.float();
      if (roll < options.user_send_probability) {
        const others = this.world.users.filter((u) => u !== this);
        this.sendTo(dice.pick(others).id, "chaos");
      } else if (roll < options.user_send_probability + options.user_leave_probability) {
        const gone = this.leave();
        if (gone && servers.length > 0 && dice.chance(options.user_move_probability)) {
          this.connect(dice.pick(servers));
        }
      } else if (
        roll <
          options.user_send_probability + options.user_leave_probability +
            options.user_list_probability
      ) this.list();
    }
  }

  receive(conn: Connection, text: string): void {
    if (conn !== this.conn) return;
    const frame = parseServerFrame(this.world, text);
    switch (frame.type) {
      case "ACK":
        if (frame.payload.msg_ref === "USER_HELLO" && this.state === "connecting") {
          this.state = "online";
        }
        return;
      case "USER_DELIVER":
        this.world.count("USER_DELIVER");
        return checkDelivery(this.world, this, frame);
      case "LIST_RESPONSE":
        if (!frame.payload.users.includes(this.id)) {
          this.world.fail(`LIST_RESPONSE to ${this.id} from ${frame.from} does not list itself`);
        }
        return;
      case "ERROR":
        this.world.count(`user got ERROR ${frame.payload.code}`);
        return;
    }
  }

  closed(conn: Connection, reason: string): void {
    if (conn !== this.conn) return;
    this.world.trace(`${this.id} sees ${conn.id} closed: ${reason}`);
    this.state = "offline";
    this.conn = undefined;
    this.server = undefined;
  }

  #send(frame: Record<string, unknown>): void {
    if (this.conn) this.world.network.send(this.conn, 0, JSON.stringify(frame));
  }
}

/** The whole simulated world. */
export class World implements ServerHost, CheckedWorld {
  readonly dice: Dice;
  readonly scheduler: Scheduler;
  readonly network: FakeNetwork;
  readonly servers: SimServer[] = [];
  readonly users: SimUser[] = [];
  readonly messages = new Map<string, MessageRecord>();
  /** user -> the servers that ever accepted its hello (a remote location must be one of them). */
  readonly user_servers = new Map<string, Set<string>>();
  readonly counters = new Map<string, number>();
  /** What the current step changed, for the step checkers. */
  readonly touched = new Set<SimServer>();
  readonly touched_users = new Map<string, Set<SimServer>>();
  readonly touched_peers: [SimServer, string][] = [];
  readonly local_on = new Map<string, Set<SimServer>>();
  step = 0;
  round = 0;
  /** The most steps one settle took (how close runs come to the budget). */
  settle_steps = 0;
  phase = "boot";
  #byId = new Map<string, SimServer>();
  #userById = new Map<string, SimUser>();
  /** The last lines of trace; a line is made only if a failure reports it. */
  #trace: { step: number; at: number; line: string | (() => string) }[] = [];
  #tokens = 0;
  /** Timers of an earlier phase see a different generation and stop. */
  #generation = 0;

  constructor(readonly options: SimOptions) {
    this.dice = new Dice(options.seed);
    this.scheduler = new Scheduler(1_760_000_000_000);
    this.network = new FakeNetwork(this.scheduler, this.dice, options.network, {
      receive: (conn, end, text) => this.#endpoint(conn, end)?.receive(conn, text),
      closed: (conn, end, reason) => this.#endpoint(conn, end)?.closed(conn, reason),
    }, (line) => this.trace(line));
    for (let i = 0; i < options.servers; i++) {
      // Random UUID v4 ids (a joiner asking for another id is assigned one), so that who wins a
      // link tie-break differs from seed to seed; the second group names the server's index.
      const uuid = this.dice.uuid();
      const id = `${uuid.slice(0, 9)}${i.toString(16).padStart(4, "0")}${uuid.slice(13)}`;
      const server = new SimServer(this, i, id, `K-${id}`, this.#features());
      this.servers.push(server);
      this.#byId.set(id, server);
    }
    for (let i = 0; i < options.users; i++) {
      const user = new SimUser(this, `u${i}`, `K-u${i}`);
      this.users.push(user);
      this.#userById.set(user.id, user);
    }
  }

  /** A mixed mesh: each server a coin toss, at most MIXED_UNFLAGGED_MAX without the flag. */
  #features(): readonly string[] {
    const { gossip_direct } = this.options;
    const flagged = gossip_direct === "all" ||
      (gossip_direct === "mixed" &&
        (this.dice.chance(0.5) || this.unflagged >= MIXED_UNFLAGGED_MAX));
    return flagged ? OUR_SERVER_FEATURES : SPEC_FEATURES;
  }

  /** Servers that do not announce gossip_direct. */
  get unflagged(): number {
    return this.servers.filter((s) => !s.features.includes(FEATURE_GOSSIP_DIRECT)).length;
  }

  get introducer(): SimServer {
    return this.servers[0]!;
  }

  server(id: string): SimServer | undefined {
    return this.#byId.get(id);
  }

  user(id: string): SimUser | undefined {
    return this.#userById.get(id);
  }

  userAccepted(user: string, server: string): void {
    let set = this.user_servers.get(user);
    if (set === undefined) this.user_servers.set(user, set = new Set());
    set.add(server);
  }

  touch(server: SimServer, named?: { users: string[]; peers: string[] }): void {
    if (named === undefined) return void this.touched.add(server);
    for (const peer of named.peers) this.touched_peers.push([server, peer]);
    for (const user of named.users) {
      const on = this.touched_users.get(user);
      if (on === undefined) this.touched_users.set(user, new Set([server]));
      else on.add(server);
    }
  }

  count(what: string): void {
    this.counters.set(what, (this.counters.get(what) ?? 0) + 1);
  }

  trace(line: string | (() => string)): void {
    this.#trace.push({ step: this.step, at: this.scheduler.now, line });
    if (this.#trace.length > this.options.trace_lines * 2) {
      this.#trace.splice(0, this.#trace.length - this.options.trace_lines);
    }
  }

  fail(invariant: string): never {
    throw new SimFailure(
      this.options,
      this.step,
      this.phase,
      invariant,
      this.#trace.slice(-this.options.trace_lines).map(({ step, at, line }) =>
        `[${step} +${at - 1_760_000_000_000}ms] ${typeof line === "string" ? line : line()}`
      ),
    );
  }

  newToken(): string {
    return b64uEncode(new TextEncoder().encode(`m${++this.#tokens}`));
  }

  /** Runs every round; throws {@linkcode SimFailure} on the first broken invariant. */
  run(): SimReport {
    try {
      this.boot();
      for (this.round = 1; this.round <= this.options.rounds; this.round++) {
        this.#chaos();
        this.#heal();
      }
      this.phase = "end";
      checkReplay(this);
    } catch (e) {
      if (e instanceof SimFailure) throw e;
      this.fail(`the simulation itself threw: ${e instanceof Error ? e.stack : String(e)}`);
    }
    const delivered = [...this.messages.values()].filter((m) => m.deliveries > 0).length;
    return {
      seed: this.options.seed,
      servers: this.options.servers,
      users: this.options.users,
      steps: this.step,
      virtual_ms: this.scheduler.now - 1_760_000_000_000,
      messages_sent: this.messages.size,
      messages_delivered: delivered,
      probes: [...this.messages.values()].filter((m) => m.phase === "probe").length,
      settle_steps: this.settle_steps,
      settle_budget: settleBudget(this.options, this.unflagged),
      network: this.network.stats,
      counters: this.counters,
    };
  }

  #endpoint(conn: Connection, end: EndIndex): SimServer | SimUser | undefined {
    const node = conn.ends[end].node;
    return conn.kind === "user" && end === 0 ? this.#userById.get(node) : this.#byId.get(node);
  }

  /** Starts the introducer, and the other servers within the start spread. */
  boot(): void {
    const { scheduler, dice } = this;
    this.introducer.start();
    for (const server of this.servers.slice(1)) {
      const delay = dice.int(this.options.server_start_spread_ms + 1);
      scheduler.after(delay, `start ${server.id}`, () => server.start());
    }
  }

  /** One scheduler step, then the step checkers. False when nothing is left to do. */
  stepOnce(): boolean {
    if (!this.scheduler.next()) return false;
    this.step++;
    checkStep(this);
    return true;
  }

  #chaos(): void {
    this.phase = `round ${this.round} chaos`;
    this.network.faults = true;
    const generation = ++this.#generation;
    const { scheduler, dice, options } = this;
    const tick = () => {
      if (this.#generation !== generation) return;
      this.#faults();
      scheduler.after(options.chaos_tick_ms, "chaos tick", tick);
    };
    scheduler.after(options.chaos_tick_ms, "chaos tick", tick);
    for (const user of this.users) {
      const act = () => {
        if (this.#generation !== generation) return;
        user.act();
        scheduler.after(dice.exponential(options.user_think_mean_ms), `act ${user.id}`, act);
      };
      scheduler.after(dice.exponential(options.user_think_mean_ms), `act ${user.id}`, act);
    }
    for (let i = 0; i < options.steps; i++) this.stepOnce();
  }

  /** One draw from the fault menu. */
  #faults(): void {
    const { dice, network } = this;
    const n = network.options;
    const ids = this.servers.map((s) => s.id);
    if (dice.chance(n.partition_probability)) {
      const duration = dice.range(n.partition_duration_min_ms, n.partition_duration_max_ms);
      const a = dice.pick(ids);
      if (dice.chance(n.partition_isolate_probability)) {
        for (const b of ids) if (b !== a) network.partition(a, b, duration);
      } else {
        const b = dice.pick(ids.filter((id) => id !== a));
        network.partition(a, b, duration);
      }
    }
    if (dice.chance(n.path_clog_probability)) {
      const a = dice.pick(ids);
      const b = dice.pick(ids.filter((id) => id !== a));
      network.clog(a, b, dice.range(100, n.path_clog_duration_max_ms));
    }
    if (dice.chance(n.link_break_probability)) {
      const live = [...network.connections.values()].filter((c) =>
        !c.broken && c.ends[0].state === "open" && c.ends[1].state === "open"
      );
      if (live.length > 0) network.cut(dice.pick(live), "link break");
    }
  }

  /** Heals the network, lets the world run dry, then checks convergence and delivery. */
  #heal(): void {
    this.phase = `round ${this.round} heal`;
    this.#generation++;
    this.network.faults = false;
    this.network.healAll();
    const accepting = this.servers.filter((s) => s.accepting);
    for (const user of this.users) {
      if (user.state === "offline" && this.dice.chance(this.options.heal_reconnect_probability)) {
        user.connect(this.dice.pick(accepting));
      }
    }
    this.settle(settleBudget(this.options, this.unflagged));
    checkConverged(this);
    this.phase = `round ${this.round} probe`;
    const pairs = probePairs(this.users.filter((u) => u.connected), this.dice);
    for (const [from, to] of pairs) from.sendTo(to.id, "probe");
    this.settle(probeBudget(pairs.length));
    checkProbes(this);
    checkConverged(this);
  }

  /** Runs until the scheduler is empty; a run that never settles is stuck (a liveness bug). */
  settle(budget: number): void {
    const max = this.options.settle_steps_max || budget;
    const start = this.step;
    while (this.stepOnce()) {
      if (this.step - start > max) {
        this.fail(
          `the network did not settle within ${max} steps; next: ${
            this.scheduler.pending(10).join("; ")
          }`,
        );
      }
    }
    this.settle_steps = Math.max(this.settle_steps, this.step - start);
  }
}

/**
 * The steps a heal may take, from what it has to do (each step is one message or timer). Let n
 * be the servers, u the users, k the servers without `gossip_direct`, and c = n + 2kn the
 * copies one gossip frame costs: one per server from its origin, plus what the spec's
 * forwarding adds (an unflagged server relays to all n, and flagged ones relay to the k); with
 * no flag at all that is about n².
 *
 * - every link of the full mesh may have to be made again: n²/2 links, each a few messages and
 *   the SERVER_ANNOUNCE relays it causes (none between flagged servers, when it tells nothing
 *   new; up to c from an unflagged one), so about n · c;
 * - every user may connect again: u presence frames of c copies each (a digest replaces a
 *   flagged peer's greeting, so a heal adds nothing per user beyond what changed);
 * - every chaos step may have left one thing in flight.
 *
 * So the budget is a + b · n · c + d · u · c + steps, with a, b, d set from measured heals with
 * a margin (`--seeds` prints each run's largest heal against it; over 50 servers and 500 users,
 * seeds 1..20, the closest used 56 %): a heal that needs more is a liveness bug, not a slow
 * seed.
 */
export function settleBudget(options: SimOptions, unflagged: number): number {
  const n = options.servers;
  const c = n + 2 * unflagged * n;
  return 20_000 + 40 * n * c + 20 * options.users * c + options.steps;
}

/** A probe DM costs at most a handful of steps (hop, forward, deliver, ACKs, a retry). */
function probeBudget(probes: number): number {
  return 10_000 + 20 * probes;
}

/** Every pair of online users while that is cheap; else a bounded sample that covers every route. */
const PROBE_PAIRS_ALL_MAX = 40;

/**
 * The (from, to) pairs probed after a heal: all of them for up to {@linkcode PROBE_PAIRS_ALL_MAX}
 * online users; beyond, every user sends one probe and receives one, and every ordered pair of
 * servers that host someone carries one, so every route is tried while the count stays
 * O(users + servers²) instead of O(users²).
 */
export function probePairs(online: SimUser[], dice: Dice): [SimUser, SimUser][] {
  const pairs: [SimUser, SimUser][] = [];
  if (online.length < 2) return pairs;
  if (online.length <= PROBE_PAIRS_ALL_MAX) {
    for (const from of online) for (const to of online) if (to !== from) pairs.push([from, to]);
    return pairs;
  }
  const shuffled = [...online];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = dice.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  shuffled.forEach((from, i) => pairs.push([from, shuffled[(i + 1) % shuffled.length]!]));
  const byServer = new Map<SimServer, SimUser[]>();
  for (const user of online) {
    const list = byServer.get(user.server!) ?? [];
    list.push(user);
    byServer.set(user.server!, list);
  }
  for (const [, as] of byServer) {
    for (const [, bs] of byServer) {
      if (as === bs) continue;
      pairs.push([dice.pick(as), dice.pick(bs)]);
    }
  }
  return pairs;
}

/** Runs one seeded simulation. */
export function runSimulation(options: SimOptions): SimReport {
  return new World(options).run();
}
