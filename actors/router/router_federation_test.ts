// Goal: the Router's server-side decisions, as given events / when an input / then events and
// effects: join and id assignment, join policy, duplicate-link tie-break, gossip scope checks,
// de-duplication and stale ts, and cleanup when a server link dies.
import assert from "node:assert/strict";
import type { Frame } from "../../protocol/mod.ts";
import type { RouterEvent } from "../../store/events.ts";
import { DEFAULT_ROUTER_CONFIG, type RouterConfig } from "./router_config.ts";
import type { RouterInput } from "./router_messages.ts";
import { given as givenRouter, serverFrame } from "./_router_spec.ts";

const ME = "s-m";

const NOW = 1_000_000;
/** Joiners ask for UUID v4 ids (any other id is replaced, see the alias tests). */
const NEW = "5e000000-0000-4000-8000-00000000000e";
const B = "b0000000-0000-4000-8000-00000000000b";

function given(events: RouterEvent[], config: RouterConfig = DEFAULT_ROUTER_CONFIG) {
  return givenRouter(ME, events, { server_pub: "KM", config });
}
const pinned = (id: string, key = `K-${id}`): RouterEvent => ({
  type: "ServerPinned",
  server_id: id,
  pubkey: key,
  host: "h",
  port: 1,
  at_ms: 1,
});
const linked = (id: string, link: string, outbound = false): RouterEvent => ({
  type: "ServerLinked",
  server_id: id,
  link,
  outbound,
  at_ms: 1,
});
const hello = (
  type: "SERVER_HELLO_JOIN" | "SERVER_HELLO_LINK",
  from: string,
  link: string,
  pubkey = `K-${from}`,
): RouterInput => ({
  type: "ServerHello",
  link,
  frame: {
    type,
    from,
    to: ME,
    ts: NOW,
    payload: { host: "10.0.0.9", port: 9, pubkey },
    sig: "s",
  } as Extract<RouterInput, { type: "ServerHello" }>["frame"],
  pubkey,
  fresh_id: "s-fresh",
  raw: "{}",
  at_ms: NOW,
});
const fromServer = (link: string, frame: Frame, pubkey = "") =>
  serverFrame(link, frame, NOW, pubkey);
const advertise = (from: string, user: string, server = from, ts = NOW): Frame => ({
  type: "USER_ADVERTISE",
  from,
  to: "*",
  ts,
  payload: { user_id: user, server_id: server, meta: {}, pubkey: `K-${user}` },
  sig: "s",
});

Deno.test("a join gets a welcome listing both keys and every pinned server, with our own entry", () => {
  const d = given([pinned("s-b")]).when(hello("SERVER_HELLO_JOIN", NEW, "L1"));
  const welcome = d.effects.find((e) => e.type === "Send" && e.frame.type === "SERVER_WELCOME");
  assert.ok(welcome && welcome.type === "Send");
  const p = welcome.frame.payload as {
    assigned_id: string;
    servers: { server_id: string; user_id: string }[];
    clients: unknown;
  };
  assert.equal(p.assigned_id, NEW);
  assert.deepEqual(p.servers.map((s) => s.server_id).sort(), ["s-b", ME]);
  assert.ok(p.servers.every((s) => s.user_id === s.server_id));
  assert.deepEqual(p.clients, p.servers);
  assert.deepEqual(d.events.map((e) => e.type), ["ServerPinned", "ServerLinked"]);
});

Deno.test("a join with an id taken by another key is assigned a fresh id", () => {
  const d = given([pinned(B)]).when(hello("SERVER_HELLO_JOIN", B, "L1", "K-impostor"));
  const welcome = d.effects.find((e) => e.type === "Send" && e.frame.type === "SERVER_WELCOME");
  assert.equal(
    (welcome as { frame: { payload: { assigned_id: string } } }).frame.payload.assigned_id,
    "s-fresh",
  );
  const rejoin = given([pinned(B)]).when(hello("SERVER_HELLO_JOIN", B, "L1"));
  assert.equal(
    (rejoin.effects.find((e) => e.type === "Send" && e.frame.type === "SERVER_WELCOME") as {
      frame: { payload: { assigned_id: string } };
    }).frame.payload.assigned_id,
    B,
    "the same key keeps its id",
  );
});

Deno.test("a link claiming a pinned id with another key is refused; the pinned policy refuses strangers", () => {
  const d = given([pinned("s-b")]).when(hello("SERVER_HELLO_LINK", "s-b", "L1", "K-other"));
  assert.match(d.verdict.reason, /pinned to a different key/);
  assert.ok(d.effects.some((e) => e.type === "Close"));
  const strict: RouterConfig = {
    ...DEFAULT_ROUTER_CONFIG,
    join_policy: "pinned",
    pinned_keys: new Set(["K-ok"]),
  };
  assert.match(
    given([], strict).when(hello("SERVER_HELLO_JOIN", NEW, "L1")).verdict.reason,
    /accepts only servers whose keys are pinned/,
  );
  assert.equal(
    given([], strict).when(hello("SERVER_HELLO_JOIN", NEW, "L1", "K-ok")).verdict.accepted,
    true,
  );
});

Deno.test("two links to one server settle on the one dialled by the smaller id", () => {
  // ME ("s-m") < "s-z": our outbound link wins over its inbound one, whichever came first.
  const d = given([pinned("s-z"), linked("s-z", "OUT", true)]).when(
    hello("SERVER_HELLO_LINK", "s-z", "IN"),
  );
  assert.equal(d.verdict.accepted, false);
  assert.deepEqual(d.effects, [{
    type: "Close",
    link: "IN",
    code: 1000,
    reason: "duplicate link",
  }]);
  const w = given([pinned("s-z"), linked("s-z", "IN", false)]);
  const d2 = w.when({ type: "ServerDialed", link: "OUT", server_id: "s-z", at_ms: NOW });
  assert.equal(d2.verdict.accepted, true);
  assert.equal(w.state.servers.get("s-z")?.link, "OUT");
  assert.ok(d2.effects.some((e) => e.type === "Close" && e.link === "IN"));
});

Deno.test("gossip: an advertise is applied once, relayed to users and forwarded to other servers", () => {
  const w = given([pinned("s-a"), pinned("s-b"), linked("s-a", "LA"), linked("s-b", "LB"), {
    type: "UserRegistered",
    user_id: "u",
    pubkey: "K",
    meta: {},
    at_ms: 1,
  }, { type: "UserArrived", user_id: "u", link: "LU", meta: {}, at_ms: 1 }]);
  const frame = advertise("s-a", "alice");
  const d = w.when(fromServer("LA", frame, "K-alice"));
  assert.equal(w.state.user_locations.get("alice"), "s-a");
  assert.deepEqual(d.effects.map((e) => [e.type, "link" in e ? e.link : ""]).sort(), [[
    "Relay",
    "LB",
  ], ["Relay", "LU"]]);
  // s-a is linked, so only its own link counts for its users; a relayed copy is ignored.
  const again = w.when(fromServer("LB", frame, "K-alice"));
  assert.match(again.verdict.reason, /its own link/);
  assert.deepEqual(again.effects, []);
});

Deno.test("gossip scope: a server may advertise or remove only its own users; remove needs a matching location", () => {
  const w = given([pinned("s-a"), pinned("s-b"), linked("s-a", "LA"), linked("s-b", "LB")]);
  assert.match(
    w.when(fromServer("LA", advertise("s-a", "bob", "s-b"))).verdict.reason,
    /may advertise only its own users/,
  );
  w.when(fromServer("LB", advertise("s-b", "bob"), "K-bob"));
  const remove = (from: string, ts: number): Frame => ({
    type: "USER_REMOVE",
    from,
    to: "*",
    ts,
    payload: { user_id: "bob", server_id: from },
    sig: "s",
  });
  assert.match(
    w.when(fromServer("LA", remove("s-a", NOW + 1))).verdict.reason,
    /not claimed by s-a/,
  );
  assert.equal(w.state.user_locations.get("bob"), "s-b");
  w.when(fromServer("LB", remove("s-b", NOW + 2)));
  assert.equal(w.state.user_locations.has("bob"), false);
});

Deno.test("frames whose ts is outside the seen window are dropped as stale", () => {
  const w = given([pinned("s-a"), linked("s-a", "LA")]);
  assert.match(
    w.when(fromServer("LA", advertise("s-a", "old", "s-a", NOW - 3_600_000))).verdict.reason,
    /stale ts/,
  );
  assert.match(
    w.when(fromServer("LA", advertise("s-a", "future", "s-a", NOW + 3_600_000))).verdict.reason,
    /stale ts/,
  );
});

Deno.test("a dead server link unlocates its users, tells local users, and asks to dial again", () => {
  const w = given([pinned("s-a"), linked("s-a", "LA"), {
    type: "UserRegistered",
    user_id: "u",
    pubkey: "K",
    meta: {},
    at_ms: 1,
  }, { type: "UserArrived", user_id: "u", link: "LU", meta: {}, at_ms: 1 }]);
  w.when(fromServer("LA", advertise("s-a", "alice"), "K-alice"));
  const d = w.when({ type: "LinkClosed", link: "LA", reason: "TIMEOUT", at_ms: NOW });
  assert.deepEqual(d.events.map((e) => e.type), ["ServerUnlinked", "UserUnlocated"]);
  assert.ok(
    d.effects.some((e) => e.type === "Send" && e.link === "LU" && e.frame.type === "USER_REMOVE"),
  );
  assert.ok(d.effects.some((e) => e.type === "Dial" && e.server_id === "s-a"));
  assert.equal(w.state.user_locations.has("alice"), false);
});

Deno.test("SERVER_DELIVER for a local user becomes USER_DELIVER with the original ts; unknown gets USER_NOT_FOUND", () => {
  const w = given([pinned("s-a"), linked("s-a", "LA"), {
    type: "UserRegistered",
    user_id: "u",
    pubkey: "K",
    meta: {},
    at_ms: 1,
  }, { type: "UserArrived", user_id: "u", link: "LU", meta: {}, at_ms: 1 }]);
  const deliver = (user: string, ts: number): Frame => ({
    type: "SERVER_DELIVER",
    from: "s-a",
    to: ME,
    ts,
    payload: { user_id: user, ciphertext: "CT", sender: "x", sender_pub: "KX", content_sig: "CS" },
    sig: "s",
  });
  const d = w.when(fromServer("LA", deliver("u", NOW - 5)));
  const out = d.effects[0];
  assert.ok(
    out?.type === "Send" && out.link === "LU" && out.frame.type === "USER_DELIVER" &&
      out.frame.ts === NOW - 5,
  );
  const lost = w.when(fromServer("LA", deliver("nobody", NOW - 4)));
  assert.ok(
    lost.effects[0]?.type === "Send" &&
      (lost.effects[0].frame.payload as { code: string }).code === "USER_NOT_FOUND",
  );
});

// Regressions found by the seeded simulation (tests/sim): presence that never converged after
// the network healed, and a joiner that could never join.

const removeOf = (from: string, user: string, ts = NOW): Frame => ({
  type: "USER_REMOVE",
  from,
  to: "*",
  ts,
  payload: { user_id: user, server_id: from },
  sig: "s",
});
const localUser = (user: string, link: string): RouterEvent[] => [
  { type: "UserRegistered", user_id: user, pubkey: `K-${user}`, meta: {}, at_ms: 1 },
  { type: "UserArrived", user_id: user, link, meta: {}, at_ms: 1 },
];

Deno.test("an old advertise of a server the user left is undone by its remove, not the newer location", () => {
  // bob moved from s-a to s-b; s-b's advertise arrived first, s-a's delayed words after it.
  const w = given([pinned("s-a"), pinned("s-b"), linked("s-a", "LA"), linked("s-b", "LB")]);
  w.when(fromServer("LB", advertise("s-b", "bob", "s-b", NOW + 2), "K-bob"));
  w.when(fromServer("LA", advertise("s-a", "bob", "s-a", NOW), "K-bob"));
  w.when(fromServer("LA", removeOf("s-a", "bob", NOW + 1)));
  assert.equal(w.state.user_locations.get("bob"), "s-b");
});

Deno.test("an advertise for a user still connected here counts once its link closes", () => {
  // alice's link here is dead but not yet known to be; she reconnected to s-a.
  const w = given([pinned("s-a"), linked("s-a", "LA"), ...localUser("alice", "LU")]);
  w.when(fromServer("LA", advertise("s-a", "alice"), "K-alice"));
  assert.equal(w.state.user_locations.get("alice"), "local");
  w.when({ type: "LinkClosed", link: "LU", reason: "gone", at_ms: NOW });
  assert.equal(w.state.user_locations.get("alice"), "s-a");
});

Deno.test("a new link forgets what relays said of that server; its own link is heard even after a relayed copy", () => {
  const w = given([pinned("s-a"), pinned("s-b"), linked("s-b", "LB")]);
  // Not linked to s-a: a relayed advertise counts (it may be stale).
  w.when(fromServer("LB", advertise("s-a", "carol", "s-a", NOW - 10), "K-carol"));
  w.when(fromServer("LB", advertise("s-a", "dave", "s-a", NOW - 5), "K-dave"));
  assert.equal(w.state.user_locations.get("carol"), "s-a");
  const up = w.when({ type: "ServerDialed", link: "LA", server_id: "s-a", at_ms: NOW });
  assert.deepEqual(up.events.map((e) => e.type), [
    "ServerLinked",
    "UserUnlocated",
    "UserUnlocated",
  ]);
  // s-a's own words: dave (already heard through s-b) is still there, carol is not.
  w.when(fromServer("LA", advertise("s-a", "dave", "s-a", NOW - 5), "K-dave"));
  assert.equal(w.state.user_locations.get("dave"), "s-a");
  assert.equal(w.state.user_locations.has("carol"), false);
  // Linked now: relayed words about s-a's users are ignored, and not even marked seen.
  const relayed = w.when(fromServer("LB", removeOf("s-a", "dave", NOW + 1)));
  assert.match(relayed.verdict.reason, /its own link/);
  assert.deepEqual(relayed.events, []);
  assert.equal(w.state.user_locations.get("dave"), "s-a");
});

Deno.test("a join over a link that loses the tie-break still gets the welcome, and the list is used", () => {
  // The joiner gave up waiting for our welcome; we dialled it (we have the smaller id) and it
  // now asks to join again over a second link.
  // The introducer's id is the smaller one, so the link it dialled wins.
  const Z = "f0000000-0000-4000-8000-00000000000f";
  const introducer = givenRouter("00000000-0000-4000-8000-000000000000", [
    pinned(Z),
    pinned("s-q"),
    linked(Z, "OUT", true),
  ], { server_pub: "KM" });
  const d = introducer.when(hello("SERVER_HELLO_JOIN", Z, "IN"));
  assert.equal(d.verdict.accepted, false);
  assert.deepEqual(
    d.effects.map((e) => e.type === "Send" ? e.frame.type : e.type),
    ["SERVER_WELCOME", "Close"],
  );
  // The joiner's side: linked to the introducer by the link the introducer dialled.
  const joiner = givenRouter("s-z", [
    { type: "ServerPinned", server_id: "s-a", pubkey: "K-s-a", host: "h", port: 1, at_ms: 1 },
    { type: "ServerLinked", server_id: "s-a", link: "IN", outbound: false, at_ms: 1 },
  ]);
  const w = joiner.when({
    type: "Welcomed",
    link: "JOIN",
    introducer: { server_id: "s-a", host: "h", port: 1, pubkey: "K-s-a" },
    servers: [{ server_id: "s-q", host: "hq", port: 2, pubkey: "K-s-q" }],
    raw: "{}",
    at_ms: NOW,
  });
  assert.ok(w.effects.some((e) => e.type === "Close" && e.link === "JOIN"));
  assert.ok(w.effects.some((e) => e.type === "Dial" && e.server_id === "s-q"));
  assert.ok(w.events.some((e) => e.type === "ServerPinned" && e.server_id === "s-q"));
});

Deno.test("a placeholder id becomes the alias of the first joiner that asked for it, and of no other", () => {
  const w = given([]);
  const join = (key: string, fresh: string) =>
    w.when(
      { ...hello("SERVER_HELLO_JOIN", "auto", "L-" + fresh, key), fresh_id: fresh } as RouterInput,
    );
  const first = join("K-first", NEW);
  assert.deepEqual(first.events.map((e) => e.type), [
    "ServerPinned",
    "ServerAliased",
    "ServerLinked",
  ]);
  assert.match(first.verdict.reason, /instead of auto: not a UUID v4; auto kept as its alias/);
  assert.equal(w.state.server_aliases.get("auto"), NEW);
  // The same key joining again under the alias keeps its UUID.
  const again = join("K-first", B);
  assert.equal(again.events.some((e) => e.type === "ServerPinned" && e.server_id === B), false);
  assert.match(again.verdict.reason, /alias auto, bound to its key/);
  // Another key asking for the placeholder: its own UUID, no alias.
  const other = join("K-other", B);
  assert.equal(other.events.some((e) => e.type === "ServerAliased"), false);
  assert.equal(w.state.server_keys.get(B), "K-other");
  assert.equal(w.state.server_aliases.get("auto"), NEW);
  // A link hello naming the alias must bring the alias's key; PEER_HELLO_LINK is a link hello.
  const link = hello("SERVER_HELLO_LINK", "auto", "L-x", "K-other") as Extract<
    RouterInput,
    { type: "ServerHello" }
  >;
  const impostor = w.when({ ...link, frame: { ...link.frame, type: "PEER_HELLO_LINK" } });
  assert.match(
    impostor.verdict.reason,
    /BAD_KEY: id auto is an alias of server .* bound to another key/,
  );
});
