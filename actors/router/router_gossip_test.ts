// Goal: the gossip_direct rule as given events / when a frame / then relays and frames: what a
// flagged pair never relays and what everyone else still gets; the digest that replaces the
// greeting on a new link; kept claims restored only where the digest agrees; a request
// answered with exactly the buckets asked for.
import assert from "node:assert/strict";
import type { Frame } from "../../protocol/mod.ts";
import type { RouterEvent } from "../../store/events.ts";
import { DEFAULT_ROUTER_CONFIG } from "./router_config.ts";
import { OUR_SERVER_FEATURES } from "./router_delivery.ts";
import { FEATURE_GOSSIP_DIRECT } from "../../protocol/features.ts";
import type { Effect, RouterInput } from "./router_messages.ts";
import { bucketOf, digestFrame } from "./router_gossip.ts";
import { given as givenRouter, serverFrame } from "./_router_spec.ts";

const ME = "s-m";
const NOW = 1_000_000;
const FLAG = [...OUR_SERVER_FEATURES];
const SPEC = OUR_SERVER_FEATURES.filter((f) => f !== FEATURE_GOSSIP_DIRECT);

const given = (events: RouterEvent[]) => givenRouter(ME, events, { server_pub: "KM" });
const peer = (id: string, link: string, features: string[]): RouterEvent[] => [
  { type: "ServerPinned", server_id: id, pubkey: `K-${id}`, host: "h", port: 1, at_ms: 1 },
  { type: "ServerLinked", server_id: id, link, outbound: false, at_ms: 1, features },
];
const fromServer = (link: string, frame: Frame, pubkey = "") =>
  serverFrame(link, frame, NOW, pubkey);
const advertise = (from: string, user: string): Frame => ({
  type: "USER_ADVERTISE",
  from,
  to: "*",
  ts: NOW,
  payload: { user_id: user, server_id: from, meta: {}, pubkey: `K-${user}` },
  sig: "s",
});
const relayedTo = (effects: Effect[]) =>
  effects.flatMap((e) => (e.type === "Relay" ? [e.link] : [])).sort();
const sent = (effects: Effect[], type: string) =>
  effects.flatMap((e) => (e.type === "Send" && e.frame.type === type ? [e.frame] : []));

/** A mesh of flagged A and B, unflagged C, and D of either kind. */
const mesh = (d: string[]) => [
  ...peer("s-a", "LA", FLAG),
  ...peer("s-b", "LB", FLAG),
  ...peer("s-c", "LC", SPEC),
  ...peer("s-d", "LD", d),
];

Deno.test("a flagged origin's presence is relayed to unflagged servers only", () => {
  const d = given(mesh(FLAG)).when(fromServer("LA", advertise("s-a", "u1"), "K-u1"));
  assert.equal(d.verdict.accepted, true);
  assert.deepEqual(relayedTo(d.effects), ["LC"]);
});

Deno.test("an unflagged origin's presence keeps the spec's forwarding to everyone", () => {
  const d = given(mesh(SPEC)).when(fromServer("LD", advertise("s-d", "u1"), "K-u1"));
  assert.deepEqual(relayedTo(d.effects), ["LA", "LB", "LC"]);
});

Deno.test("without the flag ourselves we forward as the spec says", () => {
  const w = givenRouter(ME, mesh(FLAG), {
    server_pub: "KM",
    config: { ...DEFAULT_ROUTER_CONFIG, features: SPEC },
  });
  const d = w.when(fromServer("LA", advertise("s-a", "u1"), "K-u1"));
  assert.deepEqual(relayedTo(d.effects), ["LB", "LC", "LD"]);
});

Deno.test("an announce is relayed to flagged servers only when it tells something new", () => {
  const announce = (host: string): Frame => ({
    type: "SERVER_ANNOUNCE",
    from: "s-a",
    to: "*",
    ts: NOW + host.length,
    payload: { host, port: 1, pubkey: "K-s-a", features: FLAG },
    sig: "s",
  });
  const known = given(mesh(FLAG)).when(fromServer("LA", announce("h"), "K-s-a"));
  assert.deepEqual(relayedTo(known.effects), ["LC"]);
  const moved = given(mesh(FLAG)).when(fromServer("LA", announce("h2"), "K-s-a"));
  assert.deepEqual(relayedTo(moved.effects), ["LB", "LC", "LD"]);
});

const localUser = (user: string): RouterEvent[] => [
  { type: "UserRegistered", user_id: user, pubkey: `K-${user}`, meta: {}, at_ms: 1 },
  { type: "UserArrived", user_id: user, link: `L-${user}`, meta: {}, at_ms: 1 },
  { type: "PublicChannelJoined", members: [user], at_ms: 1 },
];

Deno.test("a new link to a flagged peer gets a digest, to an unflagged one every user", () => {
  const hello = (from: string, features: string[]): RouterInput => ({
    type: "ServerHello",
    link: "L9",
    frame: {
      type: "SERVER_HELLO_LINK",
      from,
      to: ME,
      ts: NOW,
      payload: { host: "h", port: 9, pubkey: `K-${from}`, features },
      sig: "s",
    } as Extract<RouterInput, { type: "ServerHello" }>["frame"],
    pubkey: `K-${from}`,
    fresh_id: "s-fresh",
    raw: "{}",
    at_ms: NOW,
  });
  const users = [...localUser("u1"), ...localUser("u2")];
  const flagged = given(users).when(hello("s-x", FLAG));
  assert.equal(sent(flagged.effects, "USER_ADVERTISE").length, 0);
  const [digest] = sent(flagged.effects, "GOSSIP_DIGEST");
  const counts = (digest!.payload as { users: [number, string][] }).users.map(([n]) => n);
  assert.equal(counts.reduce((a, b) => a + b, 0), 2);
  const spec = given(users).when(hello("s-y", SPEC));
  assert.equal(sent(spec.effects, "USER_ADVERTISE").length, 2);
  assert.equal(sent(spec.effects, "GOSSIP_DIGEST").length, 0);
});

/** Two users in different buckets, u-same (unchanged on A) and u-gone (left A meanwhile). */
function usersInTwoBuckets(): [string, string] {
  const first = "u0";
  for (let i = 1;; i++) if (bucketOf(`u${i}`) !== bucketOf(first)) return [first, `u${i}`];
}

Deno.test("a heal restores kept claims where the digest agrees and asks for the rest", () => {
  const [same, gone] = usersInTwoBuckets();
  const w = given([
    ...peer("s-a", "LA", FLAG),
    { type: "PublicChannelJoined", members: [same], at_ms: 1 },
  ]);
  w.when(fromServer("LA", advertise("s-a", same), `K-${same}`));
  w.when(fromServer("LA", advertise("s-a", gone), `K-${gone}`));
  const down = w.when({ type: "LinkClosed", link: "LA", reason: "timeout", at_ms: NOW });
  assert.ok(down.events.every((e) => e.type !== "UserUnlocated" || e.dormant === true));
  assert.equal(w.state.user_locations.size, 0, "a dead link's users are unlocated at once");
  assert.equal(w.state.dormant_claims.get("s-a")?.size, 2);
  w.when({ type: "ServerDialed", link: "LA2", server_id: "s-a", at_ms: NOW });
  // s-a now hosts only `same`: `gone` left while the link was down.
  const a = given(localUser(same));
  const theirs = digestFrame({ ...a.state, server_id: "s-a" }, NOW + 1);
  const d = w.when(fromServer("LA2", { ...theirs, sig: "s" } as Frame));
  assert.equal(d.verdict.accepted, true);
  assert.equal(w.state.user_locations.get(same), "s-a", "restored without a re-send");
  assert.equal(w.state.user_locations.has(gone), false, "a claim in a changed bucket is not");
  assert.equal(w.state.dormant_claims.size, 0);
  assert.deepEqual(sent(d.effects, "GOSSIP_REQUEST"), [], "the changed bucket is now empty");
});

Deno.test("a digest bucket that differs and is not empty is asked for", () => {
  const w = given(peer("s-a", "LA", FLAG));
  const a = given([...localUser("u1"), ...localUser("u2")]);
  const theirs = digestFrame({ ...a.state, server_id: "s-a" }, NOW);
  const d = w.when(fromServer("LA", { ...theirs, sig: "s" } as Frame));
  const [request] = sent(d.effects, "GOSSIP_REQUEST");
  const p = request!.payload as { users: number[]; members: number[] };
  assert.deepEqual(p.users.sort(), [...new Set([bucketOf("u1"), bucketOf("u2")])].sort());
  assert.deepEqual(p.members.sort(), [...new Set([bucketOf("u1"), bucketOf("u2")])].sort());
  const relayed = w.when(fromServer("LA", { ...theirs, from: "s-z", sig: "s" } as Frame));
  assert.equal(relayed.verdict.accepted, false, "a digest counts only from its own server");
});

Deno.test("a request is answered with the users and members of the buckets asked for, only", () => {
  const [u1, u2] = usersInTwoBuckets();
  const w = given([...peer("s-a", "LA", FLAG), ...localUser(u1), ...localUser(u2)]);
  const d = w.when(fromServer("LA", {
    type: "GOSSIP_REQUEST",
    from: "s-a",
    to: ME,
    ts: NOW,
    payload: { users: [bucketOf(u2)], members: [bucketOf(u1)] },
    sig: "s",
  }));
  const ads = sent(d.effects, "USER_ADVERTISE");
  assert.deepEqual(ads.map((f) => (f.payload as { user_id: string }).user_id), [u2]);
  const adds = sent(d.effects, "PUBLIC_CHANNEL_ADD");
  assert.deepEqual(adds.map((f) => (f.payload as { add: string[] }).add), [[u1]]);
  assert.ok(d.effects.every((e) => e.type !== "Relay" && (e.type !== "Send" || e.link === "LA")));
});

Deno.test("a linked peer that stops announcing the flag is greeted in full", () => {
  const w = given([...peer("s-a", "LA", FLAG), ...localUser("u1")]);
  const d = w.when(fromServer("LA", {
    type: "SERVER_ANNOUNCE",
    from: "s-a",
    to: "*",
    ts: NOW,
    payload: { host: "h", port: 1, pubkey: "K-s-a", features: SPEC },
    sig: "s",
  }, "K-s-a"));
  assert.deepEqual(
    sent(d.effects, "USER_ADVERTISE").map((f) => (f.payload as { user_id: string }).user_id),
    ["u1"],
  );
});
