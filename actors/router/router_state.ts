/**
 * The Router's state, named as in the spec (§6.1): `servers`, `server_addrs`, `local_users`,
 * `user_locations`, `seen_ids`, plus pinned server keys and the user directory (§6.2).
 * `evolve` folds one event into it; it is pure and deterministic, so replaying the log rebuilds
 * exactly the live state.
 * @module
 */
import { assert, assertNever } from "../../lib/assert.ts";
import { DORMANT_CLAIMS_MAX, SEEN_IDS_MAX, SEEN_WINDOW_MS } from "../../protocol/limits.ts";
import type { RouterEvent, UserMeta } from "../../store/events.ts";
import { type DeliveryState, evolveDelivery, initialDeliveryState } from "./router_delivery.ts";

/** A user's key and public metadata. */
export interface UserRecord {
  pubkey: string;
  meta: UserMeta;
  /** For a remote user: the USER_ADVERTISE as its server signed it, relayed to newcomers. */
  advertise?: string;
  /** For a local user with a password login: the encrypted key and the SRP verifier (JSON). */
  login?: { privkey_store: string; pake_password: string };
  /** For a local user: when it arrived, the `ts` of its advertise replayed to newcomers. */
  arrived_at?: number;
}

/** A live server link. */
export interface ServerLink {
  link: string;
  /** True when we dialled it. */
  outbound: boolean;
}

/** Everything the Router knows. Only the Router touches it. */
export interface RouterState {
  server_id: string;
  /** This server's public key (base64url DER SPKI). */
  server_pub: string;
  /** Users registered here: the first key seen binds the id (§15 P15). */
  users: Map<string, UserRecord>;
  /** Users hosted by other servers, as they advertised them. */
  remote_users: Map<string, UserRecord>;
  /** user_id -> link id of a user connected to this server. */
  local_users: Map<string, string>;
  /** user_id -> "local" or the id of the server hosting the user. */
  user_locations: Map<string, string>;
  /**
   * user_id -> server_id -> what that server advertised: every server whose latest word is that
   * it hosts the user (almost always one). Each server's word arrives in order on its own link,
   * but words of different servers do not, so the location is derived from all of them: a stale
   * advertise from a server the user left is undone by that server's remove, whatever came
   * between from others.
   */
  user_claims: Map<string, Map<string, UserRecord>>;
  /**
   * server_id -> user_id -> the claims of a gossip_direct server whose link went down, kept
   * (out of `user_claims`, so they locate nobody) until its digest says which still hold.
   */
  dormant_claims: Map<string, Map<string, UserRecord>>;
  /** Entries in `dormant_claims`, at most DORMANT_CLAIMS_MAX. */
  dormant_count: number;
  /** server_id -> its live link. */
  servers: Map<string, ServerLink>;
  /** server_id -> where it listens. */
  server_addrs: Map<string, { host: string; port: number }>;
  /** server_id -> its pinned key (base64url DER SPKI). */
  server_keys: Map<string, string>;
  /**
   * A joiner's own non-UUID id -> the UUID v4 we assigned it: frames naming the alias are
   * verified with that server's one pinned key. One server per alias, first come.
   */
  server_aliases: Map<string, string>;
  /** Seen id -> ts of the frame, oldest first (insertion order), at most SEEN_IDS_MAX. */
  seen_ids: Map<string, number>;
  /** Frames with a `ts` below this could no longer be de-duplicated, so they are dropped. */
  seen_floor_ms: number;
  /** The keys of `seen_ids` oldest first, from `head` on (the eviction order). */
  seen_order: { keys: string[]; head: number };
  /** The public channel (§6.3): its version and members (every user ever seen, never removed). */
  public_channel: { version: number; members: Set<string> };
  /** Offline queues, server outboxes, users' last homes and announced features. */
  delivery: DeliveryState;
}

/** The state before any event. */
export function initialRouterState(server_id: string): RouterState {
  return {
    server_id,
    server_pub: "",
    users: new Map(),
    remote_users: new Map(),
    local_users: new Map(),
    user_locations: new Map(),
    user_claims: new Map(),
    dormant_claims: new Map(),
    dormant_count: 0,
    servers: new Map(),
    server_addrs: new Map(),
    server_keys: new Map(),
    server_aliases: new Map(),
    seen_ids: new Map(),
    seen_floor_ms: 0,
    seen_order: { keys: [], head: 0 },
    public_channel: { version: 0, members: new Set() },
    delivery: initialDeliveryState(),
  };
}

/** Folds one event into the state (in place: the Router owns it alone) and returns it. */
export function evolve(state: RouterState, event: RouterEvent): RouterState {
  evolveDelivery(state.delivery, event);
  switch (event.type) {
    case "ServerStarted":
      restarted(state, event);
      break;
    case "UserRegistered":
      state.users.set(event.user_id, { pubkey: event.pubkey, meta: event.meta });
      break;
    case "UserLoginRegistered": {
      const record = state.users.get(event.user_id);
      if (record) {
        record.login = { privkey_store: event.privkey_store, pake_password: event.pake_password };
      }
      break;
    }
    case "UserArrived":
      arrived(state, event);
      break;
    case "UserLeft":
      left(state, event);
      break;
    case "ServerPinned":
      state.server_keys.set(event.server_id, event.pubkey);
      state.server_addrs.set(event.server_id, { host: event.host, port: event.port });
      break;
    case "ServerAliased":
      if (!state.server_aliases.has(event.alias)) {
        state.server_aliases.set(event.alias, event.server_id);
      }
      break;
    case "ServerLinked":
      state.servers.set(event.server_id, { link: event.link, outbound: event.outbound });
      break;
    case "ServerUnlinked":
      if (state.servers.get(event.server_id)?.link === event.link) {
        state.servers.delete(event.server_id);
      }
      break;
    case "UserLocated":
      located(state, event);
      break;
    case "UserUnlocated":
      unlocated(state, event);
      break;
    case "DormantClaimsDropped":
      state.dormant_count -= state.dormant_claims.get(event.server_id)?.size ?? 0;
      state.dormant_claims.delete(event.server_id);
      break;
    case "FrameSeen":
      rememberSeen(state, event.key, event.ts, event.at_ms);
      break;
    case "PublicChannelJoined":
      for (const member of event.members) state.public_channel.members.add(member);
      break;
    case "PublicChannelRekeyed":
      state.public_channel.version = Math.max(state.public_channel.version, event.version);
      for (const wrap of event.wraps) state.public_channel.members.add(wrap.member_id);
      break;
    case "MessageQueued":
    case "MessageDequeued":
      break;
    default:
      assertNever(event);
  }
  return state;
}

type Of<T extends RouterEvent["type"]> = Extract<RouterEvent, { type: T }>;

/** A restart: the log's links are gone. */
function restarted(state: RouterState, event: Of<"ServerStarted">): void {
  // Links do not survive a restart: nobody is local, no server is linked, and remote
  // presence is unknown until peers advertise again.
  state.server_id = event.server_id;
  state.server_pub = event.server_pub;
  state.local_users.clear();
  state.user_locations.clear();
  state.user_claims.clear();
  state.remote_users.clear();
  state.servers.clear();
  state.dormant_claims.clear();
  state.dormant_count = 0;
}

/** A user said hello on one of our links. */
function arrived(state: RouterState, event: Of<"UserArrived">): void {
  const record = state.users.get(event.user_id);
  if (record) {
    record.meta = event.meta;
    record.arrived_at = event.at_ms;
  }
  state.remote_users.delete(event.user_id);
  state.local_users.set(event.user_id, event.link);
  state.user_locations.set(event.user_id, "local");
}

/** A local user's link closed. */
function left(state: RouterState, event: Of<"UserLeft">): void {
  state.local_users.delete(event.user_id);
  if (state.user_locations.get(event.user_id) === "local") {
    state.user_locations.delete(event.user_id);
    locateByClaims(state, event.user_id);
  }
}

/** A server claims a user. */
function located(state: RouterState, event: Of<"UserLocated">): void {
  let claims = state.user_claims.get(event.user_id);
  if (claims === undefined) state.user_claims.set(event.user_id, claims = new Map());
  // Re-inserted, so the newest claim is last.
  claims.delete(event.server_id);
  undormant(state, event.server_id, event.user_id);
  claims.set(event.server_id, {
    pubkey: event.pubkey,
    meta: event.meta,
    advertise: event.advertise,
  });
  // A user connected here stays local; the claim counts once it leaves.
  if (state.user_locations.get(event.user_id) !== "local") {
    locateByClaims(state, event.user_id);
  }
}

/** A server no longer claims a user (dormant: kept for its return). */
function unlocated(state: RouterState, event: Of<"UserUnlocated">): void {
  const claims = state.user_claims.get(event.user_id);
  const claim = claims?.get(event.server_id);
  if (event.dormant && claim !== undefined) {
    keepDormant(state, event.server_id, event.user_id, claim);
  }
  claims?.delete(event.server_id);
  if (claims?.size === 0) state.user_claims.delete(event.user_id);
  if (state.user_locations.get(event.user_id) === event.server_id) {
    state.user_locations.delete(event.user_id);
    state.remote_users.delete(event.user_id);
    locateByClaims(state, event.user_id);
  }
}

function keepDormant(state: RouterState, server: string, user: string, claim: UserRecord): void {
  let kept = state.dormant_claims.get(server);
  if (!kept?.has(user) && state.dormant_count >= DORMANT_CLAIMS_MAX) return;
  if (kept === undefined) state.dormant_claims.set(server, kept = new Map());
  if (!kept.has(user)) state.dormant_count++;
  kept.set(user, claim);
}

function undormant(state: RouterState, server: string, user: string): void {
  const kept = state.dormant_claims.get(server);
  if (kept?.delete(user)) state.dormant_count--;
  if (kept?.size === 0) state.dormant_claims.delete(server);
}

/** Locates a user who is not local by the newest claim, or nowhere. */
function locateByClaims(state: RouterState, user: string): void {
  const claims = state.user_claims.get(user);
  let newest: [string, UserRecord] | undefined;
  for (const entry of claims ?? []) newest = entry;
  if (newest === undefined) {
    state.user_locations.delete(user);
    state.remote_users.delete(user);
    return;
  }
  state.user_locations.set(user, newest[0]);
  state.remote_users.set(user, newest[1]);
}

/** Adds a seen id, evicting by age and then by count; eviction raises the floor. */
function rememberSeen(state: RouterState, key: string, ts: number, at_ms: number): void {
  state.seen_floor_ms = Math.max(state.seen_floor_ms, at_ms - SEEN_WINDOW_MS);
  if (state.seen_ids.has(key)) return;
  state.seen_ids.set(key, ts);
  // Eviction walks a FIFO of keys rather than the Map itself: iterating a Map from the start
  // after many deletions costs time proportional to the deleted entries, which made folding
  // quadratic once the cache was full.
  const order = state.seen_order;
  order.keys.push(key);
  while (order.head < order.keys.length) {
    const oldest = order.keys[order.head]!;
    const oldestTs = state.seen_ids.get(oldest)!;
    if (state.seen_ids.size <= SEEN_IDS_MAX && oldestTs >= state.seen_floor_ms) break;
    order.head++;
    state.seen_ids.delete(oldest);
    // A frame as old as an evicted one could be a replay we can no longer recognise.
    state.seen_floor_ms = Math.max(state.seen_floor_ms, oldestTs + 1);
  }
  if (order.head > 4096 && order.head * 2 > order.keys.length) {
    order.keys = order.keys.slice(order.head);
    order.head = 0;
  }
}

/**
 * Checks the invariants that must hold after every event (cheap; run in tests always), for
 * every user, or only for `users` when the caller knows which ones the events touched.
 */
export function checkInvariants(
  state: RouterState,
  users: Iterable<string> = allUsers(state),
): void {
  for (const user of users) checkUser(state, user);
  for (const server of state.servers.keys()) {
    assert(state.server_keys.has(server), `linked server ${server} has no pinned key`);
  }
  for (const [alias, server] of state.server_aliases) {
    assert(state.server_keys.has(server), `alias ${alias} names ${server}, which is not pinned`);
    assert(!state.server_keys.has(alias), `alias ${alias} is also a pinned server id`);
  }
  assert(state.seen_ids.size <= SEEN_IDS_MAX, "seen_ids over its bound");
  assert(state.dormant_count <= DORMANT_CLAIMS_MAX, "dormant_claims over its bound");
}

/** Every user the state knows anything of, each once. */
function allUsers(state: RouterState): Set<string> {
  return new Set([
    ...state.local_users.keys(),
    ...state.user_locations.keys(),
    ...state.user_claims.keys(),
  ]);
}

/** One user's presence is consistent: local with a link and a key, or remote and claimed. */
function checkUser(state: RouterState, user: string): void {
  const link = state.local_users.get(user);
  const where = state.user_locations.get(user);
  const claims = state.user_claims.get(user);
  if (link !== undefined) {
    assert(where === "local", `local user ${user} on ${link} is not located "local"`);
    assert(state.users.has(user), `local user ${user} has no bound key`);
  }
  if (where === "local") {
    assert(link !== undefined, `user ${user} is "local" without a link`);
  } else if (where !== undefined) {
    assert(state.remote_users.has(user), `remote user ${user} has no record`);
    assert(claims?.has(where), `remote user ${user} on ${where} unclaimed`);
  }
  if (claims !== undefined) {
    assert(claims.size > 0, `user ${user} has an empty claim set`);
    assert(where !== undefined, `user ${user} is claimed but located nowhere`);
  }
}

/** The server an id names: itself, or the server it is an alias of (§15 dialects). */
export function serverOf(state: Readonly<RouterState>, id: string): string {
  return state.server_aliases.get(id) ?? id;
}

/** Folds a whole log. */
export function fold(server_id: string, events: Iterable<RouterEvent>): RouterState {
  let state = initialRouterState(server_id);
  for (const event of events) state = evolve(state, event);
  return state;
}
