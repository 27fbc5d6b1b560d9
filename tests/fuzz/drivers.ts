/**
 * The pure fuzz drivers: (a) `parseFrame` on generated text, (b) the Router's `decide`/`evolve`
 * fed with parsed frames wrapped as the inputs links would post, keeping the preconditions links
 * guarantee (a user link's frames come from its user, server frames from pinned servers, ...).
 * A failure is anything thrown, or a broken property; each names the frame and its index.
 * @module
 */
import { canonicalJson } from "../../protocol/canonical.ts";
import { type Frame, isFrameType } from "../../protocol/frames.ts";
import { parseFrame } from "../../protocol/parse.ts";
import { USER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import { decide } from "../../actors/router/router_decide.ts";
import { DEFAULT_ROUTER_CONFIG, type RouterConfig } from "../../actors/router/router_config.ts";
import type { Effect, RouterInput } from "../../actors/router/router_messages.ts";
import {
  checkInvariants,
  evolve,
  fold,
  initialRouterState,
  type RouterState,
} from "../../actors/router/router_state.ts";
import type { RouterEvent } from "../../store/events.ts";
import { type Cast, FRAME_TYPES, FrameGen, Rng, validFrame } from "./gen.ts";

/** The six standard error codes (§3.9): nothing else may be sent (DECISIONS.md P14). */
export const STANDARD_CODES: ReadonlySet<string> = new Set([
  "USER_NOT_FOUND",
  "INVALID_SIG",
  "BAD_KEY",
  "TIMEOUT",
  "UNKNOWN_TYPE",
  "NAME_IN_USE",
]);

/** What went wrong, where, and the frame that did it. */
export interface Failure {
  driver: "parse" | "router" | "socket";
  index: number;
  error: string;
  frame?: string;
}

/** A short, printable form of a frame for failure reports. */
export function excerpt(text: string, max = 600): string {
  const s = JSON.stringify(text);
  return s.length > max ? `${s.slice(0, max)}... (${text.length} chars)` : s;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
}

/** Statistics of the parse driver. */
export interface ParseStats {
  frames: number;
  ok: number;
  refused: Record<string, number>;
}

/** Checks the properties of one parse. Throws on a violation. */
export function checkParse(text: string, maxBytes: number): ReturnType<typeof parseFrame> {
  const result = parseFrame(text, maxBytes);
  if (result.ok) {
    const f = result.frame;
    if (!isFrameType(f.type)) throw new Error(`accepted unknown type ${f.type}`);
    if (typeof f.from !== "string" || typeof f.to !== "string" || typeof f.sig !== "string") {
      throw new Error("accepted a frame whose from/to/sig is not a string");
    }
    if (typeof f.ts !== "number" || !Number.isFinite(f.ts)) {
      throw new Error(`accepted a non-finite ts ${f.ts}`);
    }
    if (typeof f.payload !== "object" || f.payload === null || Array.isArray(f.payload)) {
      throw new Error("accepted a payload that is not an object");
    }
    // What we accepted, re-serialised, is accepted again as the same type (no parse drift).
    if (text.length < maxBytes / 4) {
      const again = parseFrame(JSON.stringify(f), maxBytes);
      if (!again.ok || again.frame.type !== f.type) {
        throw new Error(
          `re-serialised frame no longer parses: ${again.ok ? again.frame.type : again.detail}`,
        );
      }
    }
  } else {
    if (!STANDARD_CODES.has(result.code)) throw new Error(`non-standard code ${result.code}`);
    if (typeof result.detail !== "string" || result.detail.length === 0) {
      throw new Error("refusal without a detail");
    }
    if (result.detail.length > 1024) {
      throw new Error(`detail of ${result.detail.length} characters echoes too much input`);
    }
  }
  return result;
}

/** (a): `n` generated frames through `parseFrame`. */
export function fuzzParse(
  gen: FrameGen,
  n: number,
  fail: (f: Failure) => void,
  stats: ParseStats = { frames: 0, ok: 0, refused: {} },
): ParseStats {
  for (let i = 0; i < n; i++) {
    const { text } = gen.next();
    gen.tick(gen.r.int(50));
    stats.frames++;
    try {
      const r = checkParse(text, gen.r.chance(0.5) ? USER_FRAME_BYTES_MAX : 256 * 1024);
      if (r.ok) stats.ok++;
      else stats.refused[r.kind] = (stats.refused[r.kind] ?? 0) + 1;
    } catch (e) {
      fail({ driver: "parse", index: stats.frames, error: describeError(e), frame: excerpt(text) });
    }
  }
  return stats;
}

// ---- (b) the Router ---------------------------------------------------------------------------

type Role =
  | { kind: "fresh" }
  | { kind: "user"; user: string }
  | { kind: "server"; server?: string };

/** Statistics of the Router driver. */
export interface RouterStats {
  frames: number;
  inputs: number;
  accepted: number;
  events: number;
  resets: number;
}

const HELLO_TYPES = new Set(["SERVER_HELLO_LINK", "SERVER_HELLO_JOIN", "SERVER_ANNOUNCE"]);

/**
 * A model of one server's links around a real RouterState: it decides which input a frame
 * becomes, the way the links would, applies the decision and checks the invariants.
 */
export class RouterModel {
  state!: RouterState;
  #events: RouterEvent[] = [];
  #links = new Map<string, Role>();
  /** Links the Router closed; their LinkClosed is posted before the next input. */
  #closing: string[] = [];
  #nextLink = 1;
  #now = 1_760_000_000_000;
  readonly me = "ffffffff-0000-4000-8000-000000000001";

  constructor(
    readonly r: Rng,
    readonly cast: Cast,
    readonly config: RouterConfig = DEFAULT_ROUTER_CONFIG,
  ) {
    this.reset();
  }

  /** Starts over from an empty log (keeps each run's state small and varied). */
  reset(): void {
    this.state = initialRouterState(this.me);
    this.#events = [];
    this.#links.clear();
    this.#closing = [];
    this.#apply([{
      type: "ServerStarted",
      server_id: this.me,
      server_pub: "SERVER-KEY-OF-ME",
      at_ms: this.#now,
      build: "fuzz",
    }]);
  }

  /** The key a pool member presents: its own, or (rarely) another one. */
  #keyOf(id: string): string {
    return this.r.chance(0.05) ? `OTHER-KEY-${this.r.int(3)}` : `KEY-OF-${id}`;
  }

  #link(prefix = "conn"): string {
    const id = `${prefix}:${this.#nextLink++}`;
    this.#links.set(id, { kind: "fresh" });
    return id;
  }

  #linksOf(kind: Role["kind"]): string[] {
    return [...this.#links].filter(([, r]) => r.kind === kind).map(([id]) => id);
  }

  #apply(events: RouterEvent[]): void {
    for (const e of events) {
      evolve(this.state, e);
      this.#events.push(e);
    }
    checkInvariants(this.state);
  }

  /** Turns a parsed frame into the input its link would post (or a lifecycle input). */
  input(frame: Frame, raw: string): RouterInput | undefined {
    const r = this.r;
    this.#now += r.int(2000);
    const at_ms = this.#now;
    const closing = this.#closing.shift();
    if (closing !== undefined && this.#links.delete(closing)) {
      return { type: "LinkClosed", link: closing, reason: "closed by us", at_ms };
    }
    // Frames on a server link carry a ts near now, mostly.
    const roll = r.int(100);
    // Links come and go; keeping a few dozen open keeps each step cheap.
    if (roll < 3 || this.#links.size > 48) {
      const open = [...this.#links.keys()];
      if (open.length > 0) {
        const link = r.pick(open);
        this.#links.delete(link);
        return { type: "LinkClosed", link, reason: "fuzz: socket closed", at_ms };
      }
    }
    if (roll < 5) {
      return { type: "Refused", link: this.#link(), raw, reason: "BAD_KEY: fuzz", at_ms };
    }
    if (roll < 7) {
      const pinned = [...this.state.server_keys.keys()];
      if (pinned.length > 0) {
        const link = this.#link("peer");
        const server_id = r.pick(pinned);
        this.#links.set(link, { kind: "server", server: server_id });
        return { type: "ServerDialed", link, server_id, at_ms };
      }
    }
    if (roll < 8) {
      const members = [...this.state.local_users.keys()];
      return {
        type: "Rekeyed",
        version: this.state.public_channel.version + (r.chance(0.9) ? 1 : 0),
        wraps: members.map((member_id) => ({ member_id, wrapped_key: `wrap-${r.int(1e6)}` })),
        shares: members.length > 0
          ? [{
            members,
            payload: { shares: [], creator_pub: "SERVER-KEY-OF-ME", content_sig: "x" },
          }]
          : [],
        at_ms,
      };
    }
    if (frame.type === "USER_HELLO") {
      const link = this.#link();
      const user = r.chance(0.9) ? r.pick(this.cast.users) : frame.from;
      this.#links.set(link, { kind: "user", user });
      return {
        type: "UserHello",
        link,
        frame: { ...frame, from: user },
        pubkey: this.#keyOf(user),
        raw,
        at_ms,
      };
    }
    if (HELLO_TYPES.has(frame.type) && r.chance(0.7)) {
      const link = this.#link();
      const server = r.chance(0.9) ? r.pick(this.cast.servers) : frame.from;
      this.#links.set(link, { kind: "server" });
      return {
        type: "ServerHello",
        link,
        frame: { ...frame, from: server } as Extract<RouterInput, { type: "ServerHello" }>["frame"],
        pubkey: this.#keyOf(server),
        fresh_id: `fresh-${r.int(1e9)}`,
        raw,
        at_ms,
      };
    }
    const users = this.#linksOf("user");
    const servers = this.#linksOf("server");
    if (users.length > 0 && (servers.length === 0 || r.chance(0.5))) {
      const link = r.pick(users);
      const role = this.#links.get(link) as { kind: "user"; user: string };
      const to = r.chance(0.7) ? r.pick([...this.cast.users, "public", this.me]) : frame.to;
      return {
        type: "FromUser",
        link,
        frame: { ...frame, from: role.user, to } as Frame,
        raw,
        at_ms,
      };
    }
    if (servers.length > 0) {
      const link = r.pick(servers);
      // Links verify server frames with the pinned key of `from`: only pinned servers speak,
      // except an announce, which proves the key it carries.
      const pinned = [...this.state.server_keys.keys()].filter((s) => s !== this.me);
      const from = frame.type === "SERVER_ANNOUNCE" && r.chance(0.5)
        ? r.pick(this.cast.servers)
        : pinned.length > 0
        ? r.pick(pinned)
        : undefined;
      if (from === undefined) return undefined;
      const ts = r.chance(0.9) ? at_ms - r.int(10_000) : frame.ts;
      const to = r.chance(0.5)
        ? r.pick([...this.cast.users, ...this.cast.servers, this.me, "*"])
        : frame.to;
      const carried = frame.type === "USER_ADVERTISE" || frame.type === "SERVER_ANNOUNCE"
        ? (r.chance(0.8) ? this.#keyOf(String(frame.payload.user_id ?? from)) : "")
        : "";
      // Presence frames mostly speak for the sender's own users (or are dropped as forged).
      const payload = { ...frame.payload } as Record<string, unknown>;
      if ("server_id" in payload && r.chance(0.8)) payload.server_id = from;
      if ("user_id" in payload && r.chance(0.8)) payload.user_id = r.pick(this.cast.users);
      return {
        type: "FromServer",
        link,
        frame: { ...frame, from, to, ts, payload } as Frame,
        pubkey: carried,
        raw,
        at_ms,
      };
    }
    return undefined;
  }

  /** Decides one input, applies it, checks invariants and the decision's shape. */
  step(input: RouterInput): { accepted: boolean; events: number } {
    const decision = decide(this.state, input, this.config);
    if (
      typeof decision.verdict.accepted !== "boolean" || typeof decision.verdict.reason !== "string"
    ) {
      throw new Error(`malformed verdict ${JSON.stringify(decision.verdict)}`);
    }
    for (const effect of decision.effects) this.#checkEffect(effect);
    this.#apply(decision.events);
    for (const effect of decision.effects) {
      // The link closes: it sends nothing more, and its LinkClosed comes later.
      if (effect.type === "Close") this.#closing.push(effect.link);
    }
    if (input.type === "Refused") this.#links.delete(input.link);
    return { accepted: decision.verdict.accepted, events: decision.events.length };
  }

  #checkEffect(effect: Effect): void {
    if (effect.type !== "Send") return;
    const f = effect.frame;
    if (f.type === "ERROR") {
      const code = (f.payload as { code?: unknown }).code;
      if (typeof code !== "string" || !STANDARD_CODES.has(code)) {
        throw new Error(`the Router sends a non-standard ERROR code ${String(code)}`);
      }
    }
    if (!Number.isFinite(f.ts)) throw new Error(`the Router sends ${f.type} with ts ${f.ts}`);
  }

  /** The state folded again from every event so far equals the live state. */
  checkFold(): void {
    const again = fold(this.me, this.#events);
    const a = canonicalJson(snapshot(again));
    const b = canonicalJson(snapshot(this.state));
    if (a !== b) {
      throw new Error(
        `fold(events) differs from the live state:\n${a.slice(0, 300)}\n${b.slice(0, 300)}`,
      );
    }
  }
}

/** A JSON-able copy of a state (Maps and Sets as sorted entries). */
function snapshot(value: unknown): unknown {
  if (value instanceof Map) {
    return [...value].map(([k, v]) => [k, snapshot(v)]).sort((x, y) =>
      String(x[0]) < String(y[0]) ? -1 : 1
    );
  }
  if (value instanceof Set) return [...value].map(String).sort();
  if (Array.isArray(value)) return value.map(snapshot);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, snapshot(v)]));
  }
  return value;
}

/** (b): `n` generated frames through the Router's pure core, with a model of its links. */
export function fuzzRouter(
  gen: FrameGen,
  model: RouterModel,
  n: number,
  fail: (f: Failure) => void,
  stats: RouterStats = { frames: 0, inputs: 0, accepted: 0, events: 0, resets: 0 },
  resetEvery = 2_000,
): RouterStats {
  for (let i = 0; i < n; i++) {
    // Frames for the Router are mostly valid ones: a refused frame never reaches it.
    const { text } = gen.next();
    stats.frames++;
    let input: RouterInput | undefined;
    try {
      const parsed = parseFrame(text, 256 * 1024);
      input = model.input(parsed.ok ? parsed.frame : repaired(gen, model), text);
      if (input === undefined) continue;
      stats.inputs++;
      const d = model.step(input);
      if (d.accepted) stats.accepted++;
      stats.events += d.events;
      if (stats.frames % resetEvery === 0) {
        model.checkFold();
        model.reset();
        stats.resets++;
      }
    } catch (e) {
      fail({
        driver: "router",
        index: stats.frames,
        error: `${describeError(e)}\ninput: ${
          excerpt(JSON.stringify(input ?? null, (_k, v) => v instanceof Set ? [...v] : v), 800)
        }`,
        frame: excerpt(text),
      });
      model.reset();
      stats.resets++;
    }
  }
  return stats;
}

/** A valid frame to use when the generated one did not parse (so the Router sees enough). */
function repaired(gen: FrameGen, model: RouterModel): Frame {
  const f = validFrame(gen.r, gen.r.pick(FRAME_TYPES), model.cast, gen.now);
  const p = parseFrame(JSON.stringify(f), 256 * 1024);
  if (p.ok) return p.frame;
  return {
    type: "LIST_REQUEST",
    from: model.cast.users[0]!,
    to: model.me,
    ts: gen.now,
    payload: {},
    sig: "",
  };
}
