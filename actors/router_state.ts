/**
 * The Router's state, named as in the spec (§6.1): `local_users`, `user_locations`, plus the
 * server's user directory (`users`, §6.2). `evolve` folds one event into it; it is pure and
 * deterministic, so replaying the log rebuilds exactly the live state.
 * @module
 */
import { assert, assertNever } from "../lib/assert.ts";
import type { RouterEvent, UserMeta } from "../store/events.ts";

/** A user's bound key and public metadata. */
export interface UserRecord {
  pubkey: string;
  meta: UserMeta;
}

/** Everything the Router knows. Only the Router touches it. */
export interface RouterState {
  server_id: string;
  /** This server's public key (base64url DER SPKI). */
  server_pub: string;
  /** Users registered here: the first key seen binds the id (§15 P15). */
  users: Map<string, UserRecord>;
  /** user_id -> link id of a user connected to this server. */
  local_users: Map<string, string>;
  /** user_id -> "local" or the id of the server hosting the user. */
  user_locations: Map<string, string>;
}

/** The state before any event. */
export function initialRouterState(server_id: string): RouterState {
  return {
    server_id,
    server_pub: "",
    users: new Map(),
    local_users: new Map(),
    user_locations: new Map(),
  };
}

/** Folds one event into the state (in place: the Router owns it alone) and returns it. */
export function evolve(state: RouterState, event: RouterEvent): RouterState {
  switch (event.type) {
    case "ServerStarted":
      // Links do not survive a restart, so nobody is local any more.
      state.server_id = event.server_id;
      state.server_pub = event.server_pub;
      for (const user of state.local_users.keys()) state.user_locations.delete(user);
      state.local_users.clear();
      break;
    case "UserRegistered":
      state.users.set(event.user_id, { pubkey: event.pubkey, meta: event.meta });
      break;
    case "UserArrived": {
      const record = state.users.get(event.user_id);
      if (record) record.meta = event.meta;
      state.local_users.set(event.user_id, event.link);
      state.user_locations.set(event.user_id, "local");
      break;
    }
    case "UserLeft":
      state.local_users.delete(event.user_id);
      if (state.user_locations.get(event.user_id) === "local") {
        state.user_locations.delete(event.user_id);
      }
      break;
    default:
      assertNever(event);
  }
  return state;
}

/** Checks the invariants that must hold after every event (cheap; run in tests always). */
export function checkInvariants(state: RouterState): void {
  for (const [user, link] of state.local_users) {
    assert(
      state.user_locations.get(user) === "local",
      `local user ${user} on ${link} is not located "local"`,
    );
    assert(state.users.has(user), `local user ${user} has no bound key`);
  }
  for (const [user, where] of state.user_locations) {
    if (where === "local") {
      assert(state.local_users.has(user), `user ${user} is "local" without a link`);
    }
  }
}

/** Folds a whole log. */
export function fold(server_id: string, events: Iterable<RouterEvent>): RouterState {
  let state = initialRouterState(server_id);
  for (const event of events) state = evolve(state, event);
  return state;
}
