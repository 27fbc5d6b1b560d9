/**
 * The simulation's checkers (TigerBeetle's `cluster/*_checker.zig`). `checkStep` runs after
 * every scheduler step and must hold at every instant, whatever the network does; the others
 * run once the network has healed and the world has run dry. Each failure names what broke
 * and where; the world adds the seed and step.
 *
 * 1. Location: a user is local on a server exactly while that server holds an open link on
 *    which it accepted the user's hello; at most one live session per user; a remote location
 *    points at a pinned server other than this one that did accept that user at some point;
 *    every linked server's link really leads to that server.
 * 2. Delivery: a DM reaches only its recipient, with its sender, key and original `ts`, and
 *    never twice.
 * 3. Convergence: after healing, links form a full mesh and every server's `user_locations`
 *    and `local_users` match who is really connected where; DMs sent after healing between
 *    any two connected users arrive exactly once.
 * 4. The Router's own `checkInvariants` after every input, `decide`/`evolve` never throwing
 *    (checked in `SimServer.post`), and folding each server's event log giving its live state.
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { checkInvariants, fold } from "../../actors/router/router_state.ts";
import type { FrameOf } from "../../protocol/mod.ts";
import { type SimServer, tokenText } from "./sim_server.ts";
import type { CheckedUser as SimUser, CheckedWorld as World } from "./sim_types.ts";

/**
 * Checker 1, after every step. A step changes only what it touched: the links of some servers
 * (`world.touched`: those servers are checked whole), and by events only the entries of the
 * users and linked servers the events named (`world.touched_users`, `world.touched_peers`:
 * those entries are checked, both ways). So this checks the same invariants as checking
 * everything, at a cost that does not grow with the size of the world. A user's live sessions
 * are counted over the servers that have it local (`world.local_on`, kept here from the touched
 * pairs: `local_users` changes only by an event naming the user).
 */
export function checkStep(world: World): void {
  for (const server of world.touched) checkServer(world, server);
  for (const [server, peer] of world.touched_peers) {
    if (!world.touched.has(server)) checkPeer(world, server, peer);
  }
  for (const [id, servers] of world.touched_users) {
    let on = world.local_on.get(id);
    for (const server of servers) {
      if (!world.touched.has(server)) checkLocalUser(world, server, id);
      checkLocation(world, server, id);
      if (server.state.local_users.has(id)) {
        if (on === undefined) world.local_on.set(id, on = new Set());
        on.add(server);
      } else on?.delete(server);
    }
    const live: string[] = [];
    for (const server of on ?? []) {
      const link = server.state.local_users.get(id)!;
      const end = server.links.get(link);
      if (end !== undefined && end.conn.ends[0].state === "open") live.push(server.id);
    }
    if (live.length > 1) {
      world.fail(`${id} has live sessions on ${live.length} servers: ${live.join(", ")}`);
    }
  }
  world.touched.clear();
  world.touched_users.clear();
  world.touched_peers.length = 0;
}

/** A server's links against its `local_users` and `servers`, whole. */
function checkServer(world: World, server: SimServer): void {
  for (const user of server.state.local_users.keys()) checkLocalUser(world, server, user);
  for (const end of server.links.values()) {
    if (end.role === "user" && end.hello_accepted) checkLocalUser(world, server, end.user!);
  }
  for (const peer of server.state.servers.keys()) checkPeer(world, server, peer);
}

/**
 * `user` against the server's links: local on an open user link that said its hello and was
 * accepted, and every such link of that user still open is the one `local_users` has.
 */
function checkLocalUser(world: World, server: SimServer, user: string): void {
  const { state } = server;
  const link = state.local_users.get(user);
  if (link !== undefined) {
    const end = server.links.get(link);
    if (end === undefined) {
      world.fail(`${server.id}: local user ${user} is on ${link}, which is not one of its links`);
    }
    if (end.role !== "user" || end.user !== user || !end.hello_accepted) {
      world.fail(
        `${server.id}: local user ${user} is on ${link}, a ${end.role} link of ${end.user} (hello accepted: ${end.hello_accepted})`,
      );
    }
  }
  for (const end of server.user_links.get(user) ?? []) {
    if (!end.hello_accepted || end.role !== "user") continue;
    if (link !== end.conn.id) {
      world.fail(
        `${server.id}: accepted the hello of ${user} on ${end.conn.id}, still open, but local_users has ${link}`,
      );
    }
  }
}

/** A linked server's entry: an open server link that really leads to that server. */
function checkPeer(world: World, server: SimServer, peer: string): void {
  const entry = server.state.servers.get(peer);
  if (entry === undefined) return;
  const end = server.links.get(entry.link);
  if (end === undefined || end.role !== "server") {
    world.fail(
      `${server.id}: linked to ${peer} by ${entry.link}, which is not an open server link`,
    );
  }
  const other = end.conn.ends[end.end === 0 ? 1 : 0].node;
  if (other !== peer) world.fail(`${server.id}: link ${entry.link} to ${peer} leads to ${other}`);
}

/** Where `server` locates `user`: a pinned server other than itself that accepted the user. */
function checkLocation(world: World, server: SimServer, user: string): void {
  const where = server.state.user_locations.get(user);
  if (where === undefined || where === "local") return;
  if (where === server.id) world.fail(`${server.id}: locates ${user} on itself, not "local"`);
  if (!server.state.server_keys.has(where)) {
    world.fail(`${server.id}: locates ${user} on ${where}, which is not pinned`);
  }
  if (!world.user_servers.get(user)?.has(where)) {
    world.fail(`${server.id}: locates ${user} on ${where}, which never accepted that user`);
  }
}

/** Checker 2, on every USER_DELIVER a user receives. */
export function checkDelivery(world: World, user: SimUser, frame: FrameOf<"USER_DELIVER">): void {
  const { ciphertext, sender, sender_pub } = frame.payload;
  const m = world.messages.get(ciphertext);
  if (m === undefined) {
    return world.fail(`${user.id} got a DM nobody sent: ${tokenText(ciphertext)}`);
  }
  const what = `${tokenText(ciphertext)} (${m.from} -> ${m.to})`;
  if (m.to !== user.id || frame.to !== user.id) {
    world.fail(`${what} was delivered to ${user.id} (envelope to ${frame.to})`);
  }
  if (sender !== m.from || sender_pub !== world.user(m.from)?.key) {
    world.fail(`${what} arrived with sender ${sender} and key ${sender_pub}`);
  }
  if (frame.ts !== m.ts) {
    world.fail(`${what} arrived with ts ${frame.ts}, not the MSG_DIRECT's ${m.ts} (§15 P6)`);
  }
  m.deliveries++;
  if (m.deliveries > 1) {
    world.fail(`${what} was delivered ${m.deliveries} times, via ${frame.from}`);
  }
}

/** Checker 3a, once the world has run dry after healing: full mesh and converged presence. */
export function checkConverged(world: World): void {
  const truth = new Map<string, { server: string; link: string }>();
  for (const user of world.users) {
    if (user.connected) truth.set(user.id, { server: user.server!.id, link: user.conn!.id });
  }
  for (const server of world.servers) {
    const { state } = server;
    if (!server.joined) world.fail(`${server.id} never joined`);
    // After every step only what it touched is checked; here everything is.
    checkServer(world, server);
    try {
      checkInvariants(state);
    } catch (e) {
      world.fail(`${server.id}: ${e instanceof Error ? e.message : e}`);
    }
    for (const peer of world.servers) {
      if (peer === server) continue;
      const entry = state.servers.get(peer.id);
      if (entry === undefined) {
        world.fail(`${server.id} is not linked to ${peer.id} after healing (full mesh expected)`);
      }
      const back = peer.state.servers.get(server.id);
      if (back?.link !== entry.link) {
        world.fail(
          `${server.id} links to ${peer.id} by ${entry.link}, but ${peer.id} uses ${back?.link}`,
        );
      }
    }
    for (const [user, where] of truth) {
      const expected = where.server === server.id ? "local" : where.server;
      const actual = state.user_locations.get(user);
      if (actual !== expected) {
        world.fail(
          `presence did not converge: ${server.id} has ${user} at ${actual}, but ${user} is connected to ${where.server}`,
        );
      }
      if (expected === "local" && state.local_users.get(user) !== where.link) {
        world.fail(`${server.id} has ${user} on ${state.local_users.get(user)}, not ${where.link}`);
      }
    }
    for (const [user, where] of state.user_locations) {
      if (!truth.has(user)) {
        world.fail(
          `presence did not converge: ${server.id} still has ${user} at ${where}, but ${user} is offline`,
        );
      }
    }
  }
}

/** Checker 3b: every DM sent after healing, in this round, arrived exactly once. */
export function checkProbes(world: World): void {
  for (const m of world.messages.values()) {
    if (m.phase !== "probe" || m.round !== world.round || m.deliveries === 1) continue;
    const to = world.user(m.to)!;
    const from = world.user(m.from)!;
    world.fail(
      `${
        tokenText(m.token)
      } from ${m.from} (on ${from.server?.id}) to ${m.to} (on ${to.server?.id}), sent after healing, arrived ${m.deliveries} times`,
    );
  }
}

/** Checker 4b: folding each server's event log gives exactly its live state. */
export function checkReplay(world: World): void {
  for (const server of world.servers) {
    const folded = fold(server.id, server.log);
    if (isDeepStrictEqual(folded, server.state)) continue;
    const live = server.state as unknown as Record<string, unknown>;
    const again = folded as unknown as Record<string, unknown>;
    const fields = Object.keys(live).filter((k) => !isDeepStrictEqual(live[k], again[k]));
    world.fail(`${server.id}: folding its event log differs from its live state in ${fields}`);
  }
}
