/**
 * Deterministic replay (interop debugging). Folds the event log up to where the journal starts,
 * then re-runs every journaled input through the same link code (parse, key import, signature
 * checks) and the same `decide`, with the recorded clock and the recorded random ids. Nothing
 * touches the network. Each step says what arrived, what was decided and why, which events came
 * out and which frames would have been sent; `check` compares with what was recorded.
 * @module
 */
import { KeyCache } from "../links/key_cache.ts";
import { USER_KEYS_CACHED_MAX } from "../../protocol/limits.ts";
import type { PublicKey, RsaBackend } from "../../crypto/types.ts";
import { silentLogger } from "../../lib/log.ts";
import { canonicalJson } from "../../protocol/canonical.ts";
import type { Clock, Random } from "../../lib/world.ts";
import type { RouterEvent, StoredEvent } from "../../store/events.ts";
import type { Store, StoredJournalRow } from "../../store/store.ts";
import { inputOfRow } from "../router/journal_codec.ts";
import { Link, type LinkContext } from "../links/link.ts";
import { decide } from "../router/router_decide.ts";
import type { RouterConfig } from "../router/router_config.ts";
import type { Effect, RouterInput, UnsignedFrame } from "../router/router_messages.ts";
import { evolve, initialRouterState, type RouterState } from "../router/router_state.ts";
import { FirstFrameHandler, ServerLinkHandler } from "../links/server_link.ts";
import { UserLinkHandler } from "../links/user_link.ts";
// Recorded limits, and limit refusals kept as recorded.
import { DEFAULT_LIMITS, type Limits } from "../../protocol/limits.ts";
import { isLimitRefusal } from "../../lib/token_bucket.ts";

/** One re-run input. */
export interface ReplayStep {
  row: StoredJournalRow;
  /** The frame's type, from, to when the row is a parsable frame. */
  frame?: { type: string; from: string; to: string };
  verdict: { accepted: boolean; reason: string };
  events: RouterEvent[];
  /** Frames this input made the server send (or relay), and links it closed. */
  sent: string[];
  /** Set by `check`: how the re-run differs from what was recorded. */
  divergence?: string;
}

/** Options for {@linkcode replay}. */
export interface ReplayOptions {
  backend: RsaBackend;
  /** Stop after this journal seq, or this time (ms). */
  untilSeq?: number;
  untilMs?: number;
}

/** The configuration a log was made with (`log_meta.config`). */
export function recordedConfig(store: Store): RouterConfig {
  const raw = JSON.parse(store.getMeta("config") ?? "{}");
  const pins = [...(raw.bootstrap_servers ?? []), ...(raw.pinned_servers ?? [])].map((
    s: { pubkey: string },
  ) => s.pubkey);
  return {
    join_policy: raw.join_policy === "pinned" ? "pinned" : "open",
    pinned_keys: new Set(pins),
    advertise: raw.advertise ?? { host: raw.host ?? "127.0.0.1", port: raw.port ?? 0 },
    ...(typeof raw.limits?.users_max === "number" ? { users_max: raw.limits.users_max } : {}),
  };
}

/** The limits a log was made with; undefined for logs from before they existed. */
function recordedLimits(store: Store): Limits | undefined {
  const raw = JSON.parse(store.getMeta("config") ?? "{}");
  return raw.limits ? { ...DEFAULT_LIMITS, ...raw.limits } : undefined;
}

/** Re-runs a store's journal. */
export async function* replay(store: Store, options: ReplayOptions): AsyncGenerator<ReplayStep> {
  const config = recordedConfig(store);
  const events: StoredEvent[] = [...store.readEvents()];
  const rows = [...store.readJournal()];
  let state: RouterState = initialRouterState("");
  let applied = 0;
  const world = new ReplayWorld(options.backend, () => state, recordedLimits(store));
  // State follows the recorded events, so one divergence does not derail the rest of the run.
  const applyUntil = (seq: number) => {
    for (; applied < events.length && events[applied]!.seq <= seq; applied++) {
      const event = events[applied]!;
      if (event.type === "ServerStarted") world.links.clear();
      state = evolve(state, event);
    }
  };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (options.untilSeq !== undefined && row.seq > options.untilSeq) break;
    if (options.untilMs !== undefined && row.at_ms > options.untilMs) break;
    applyUntil(row.event_seq);
    if (i === 0) await world.resumeLinks(state);
    const step = await world.step(row, config, state);
    // This row's events: those after it, up to the next row's, and never a restart.
    const end = rows[i + 1]?.event_seq ?? Number.MAX_SAFE_INTEGER;
    const recorded: StoredEvent[] = [];
    for (
      let j = applied;
      j < events.length && events[j]!.seq <= end && events[j]!.type !== "ServerStarted";
      j++
    ) recorded.push(events[j]!);
    step.divergence = diverges(step, row, recorded);
    applyUntil(recorded.at(-1)?.seq ?? row.event_seq);
    yield step;
  }
}

function strip(event: RouterEvent | StoredEvent): RouterEvent {
  const { seq: _, ...rest } = event as StoredEvent;
  return rest as RouterEvent;
}

function diverges(
  step: ReplayStep,
  row: StoredJournalRow,
  recorded: StoredEvent[],
): string | undefined {
  const verdict = step.verdict.accepted ? "accepted" : "dropped";
  if (verdict !== row.verdict || step.verdict.reason !== row.reason) {
    return `verdict differs: recorded ${row.verdict} "${row.reason}", replayed ${verdict} "${step.verdict.reason}"`;
  }
  // Key order differs between stored and fresh events; compare canonical forms.
  const want = canonicalJson(recorded.map(strip));
  const got = canonicalJson(step.events.map(strip));
  if (want !== got) {
    return `events differ: recorded ${want.slice(0, 400)}, replayed ${got.slice(0, 400)}`;
  }
  return undefined;
}

/** The links of a replay: real link code over sockets that go nowhere. */
class ReplayWorld {
  links = new Map<string, Link>();
  #posted: RouterInput[] = [];
  #now = 0;
  #freshId = "";
  #ctx: LinkContext;

  constructor(backend: RsaBackend, state: () => RouterState, limits?: Limits) {
    const clock: Clock = { now: () => this.#now, setTimeout: () => 0, clearTimeout: () => {} };
    const random: Random = {
      uuid: () => this.#freshId,
      bytes: (n) => new Uint8Array(n),
      float: () => 0,
    };
    this.#ctx = {
      backend,
      signer: {
        seal: (frame: UnsignedFrame, onStart?: () => void) => {
          onStart?.();
          return Promise.resolve(JSON.stringify({ ...frame, sig: "" }));
        },
      },
      store: { journal: () => {}, lastSeq: 0 } as unknown as Store,
      clock,
      random,
      log: silentLogger,
      state,
      post: (input) => (this.#posted.push(input), true),
      outboxMax: Number.MAX_SAFE_INTEGER,
      uncongested: () => Promise.resolve(),
      heartbeatIntervalMs: 1e9,
      linkTimeoutMs: 1e9,
      serverKeys: new Map<string, Promise<PublicKey | undefined>>(),
      userKeys: new KeyCache(backend, USER_KEYS_CACHED_MAX),
      advertise: { host: "", port: 0 },
      // Frame sizes as configured; rate limits never run here (replay calls handlers directly).
      limits,
    };
  }

  /** Links that were open before the journal starts, rebuilt from the folded state. */
  async resumeLinks(state: RouterState): Promise<void> {
    for (const [user, id] of state.local_users) {
      const link = this.#link(id);
      const handler = new UserLinkHandler(link);
      const key = await this.#ctx.backend.importPublic(state.users.get(user)!.pubkey);
      if (key.ok) handler.resume(user, key.key);
      link.handler = handler;
    }
    for (const [server, { link: id }] of state.servers) {
      this.#link(id).handler = new ServerLinkHandler(this.#link(id), server);
    }
  }

  async step(row: StoredJournalRow, config: RouterConfig, state: RouterState): Promise<ReplayStep> {
    this.#now = row.at_ms;
    this.#posted = [];
    const recorded = recordedOnly(row);
    if (recorded) return recorded;
    const frame = await this.#feed(row);
    const input = this.#posted[0];
    if (!input) {
      return {
        row,
        frame,
        verdict: { accepted: false, reason: "(nothing reached the Router)" },
        events: [],
        sent: [],
      };
    }
    const decision = decide(state, input, config);
    return {
      row,
      frame,
      verdict: decision.verdict,
      events: decision.events,
      sent: decision.effects.map(describe),
    };
  }

  /** Hands the row to the Router, or to its link's handler; the frame, if it carried one. */
  async #feed(row: StoredJournalRow): Promise<ReplayStep["frame"]> {
    const extra = row.input ? JSON.parse(row.input) : {};
    this.#freshId = extra.fresh_id ?? extra.auth_nonce ?? "";
    const direct = inputOfRow(row);
    if (direct) {
      if (direct.type === "ServerDialed") {
        this.#link(row.link).handler = new ServerLinkHandler(
          this.#link(row.link),
          direct.server_id,
        );
      }
      if (direct.type === "Welcomed") {
        this.#link(row.link).handler = new ServerLinkHandler(
          this.#link(row.link),
          direct.introducer.server_id,
        );
      }
      this.#posted.push(direct);
      return undefined;
    }
    const link = this.#link(row.link);
    link.handler ??= row.link.startsWith("peer:")
      ? new ServerLinkHandler(link, "")
      : new FirstFrameHandler(link);
    await link.handler.handle(row.raw, row.at_ms);
    // A hello that had to answer a nonce: feed the recorded answer too.
    if (typeof extra.auth_response === "string") {
      await link.handler.handle(extra.auth_response, row.at_ms);
    }
    return summary(row.raw);
  }

  #link(id: string): Link {
    let link = this.links.get(id);
    if (!link) {
      link = new Link(id, { send: () => {}, close: () => {}, bufferedAmount: 0 }, this.#ctx);
      this.links.set(id, link);
    }
    return link;
  }
}

/** The step of a row that is shown as recorded and not re-run; undefined for the others. */
function recordedOnly(row: StoredJournalRow): ReplayStep | undefined {
  if (isLimitRefusal(row.reason)) {
    // A rate or connection limit depends on arrival times, not on the frame: kept as recorded.
    return {
      row,
      frame: summary(row.raw),
      verdict: { accepted: false, reason: row.reason },
      events: [],
      sent: [`ERROR TIMEOUT → ${row.link}`],
    };
  }
  if (row.kind === "note" || row.kind === "outbound") {
    // Handled by the link alone (password login), or an attempt of ours that depended on the
    // network (a join, a dial): shown as recorded, not re-run.
    return {
      row,
      frame: summary(row.raw),
      verdict: { accepted: row.verdict === "accepted", reason: row.reason },
      events: [],
      sent: [],
    };
  }
  return undefined;
}

/** Type, from and to of a raw frame; `undefined` when it is not JSON. */
export function summary(raw: string): ReplayStep["frame"] {
  try {
    const parsed = JSON.parse(raw);
    return {
      type: String(parsed.type),
      from: String(parsed.from ?? ""),
      to: String(parsed.to ?? ""),
    };
  } catch {
    return undefined; // Not JSON: the link says so.
  }
}

function describe(effect: Effect): string {
  switch (effect.type) {
    case "Send":
      return `${effect.frame.type} → ${effect.link}`;
    case "Relay":
      return `${
        (/"type"\s*:\s*"([A-Z_]+)"/.exec(effect.text)?.[1]) ?? "frame"
      } (unchanged) → ${effect.link}`;
    case "Close":
      return `close ${effect.link} (${effect.code} ${effect.reason})`;
    case "Dial":
      return `dial ${effect.server_id}`;
    case "Rekey":
      return "rekey public channel";
  }
}
