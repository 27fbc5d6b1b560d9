// Goal: the Router's decisions, as given events / when an input / then events and effects.
// Pure: no sockets, no crypto, no clock.
import assert from "node:assert/strict";
import type { FrameOf } from "../../protocol/mod.ts";
import type { RouterEvent } from "../../store/events.ts";
import type { Effect, RouterInput } from "./router_messages.ts";
import { fold } from "./router_state.ts";
import { given as givenRouter } from "./_router_spec.ts";

const S = "server-1";

function given(events: RouterEvent[]) {
  return givenRouter(S, events, { server_pub: "SPUB" });
}

function hello(user: string, pubkey: string, link: string, name?: string): RouterInput {
  const frame: FrameOf<"USER_HELLO"> = {
    type: "USER_HELLO",
    from: user,
    to: "server",
    ts: 10,
    payload: name ? { pubkey, meta: { display_name: name } } : { pubkey },
    sig: "",
  };
  return { type: "UserHello", link, frame, pubkey, raw: "{}", at_ms: 100 };
}

const arrived = (user: string, pubkey: string, link: string): RouterEvent[] => [
  { type: "UserRegistered", user_id: user, pubkey, meta: {}, at_ms: 1 },
  { type: "UserArrived", user_id: user, link, meta: {}, at_ms: 1 },
];

const sends = (effects: Effect[], link?: string) =>
  effects.filter((e) => e.type === "Send" && (link === undefined || e.link === link)).map((e) =>
    e.type === "Send" ? e.frame : undefined!
  );

Deno.test("decide() registers a new user, ACKs with the server key and advertises both ways", () => {
  const world = given(arrived("bob", "KB", "L1"));
  const d = world.when(hello("alice", "KA", "L2", "Alice"));
  assert.deepEqual(d.events.map((e) => e.type), [
    "UserRegistered",
    "UserArrived",
    "PublicChannelJoined",
  ]);
  assert.ok(d.effects.some((e) => e.type === "Rekey"), "a join rotates the public channel key");
  const toAlice = sends(d.effects, "L2");
  assert.equal(toAlice[0]!.type, "ACK");
  assert.deepEqual(toAlice[0]!.payload, {
    msg_ref: "USER_HELLO",
    server_id: S,
    server_pub: "SPUB",
    features: ["directory", "login"],
    login_registered: false,
  });
  const advertised = toAlice.filter((f) => f.type === "USER_ADVERTISE").map((f) =>
    f.payload.user_id
  );
  assert.deepEqual(advertised.sort(), ["alice", "bob"]);
  const toBob = sends(d.effects, "L1");
  assert.equal(toBob.length, 1);
  assert.deepEqual(toBob[0]!.payload, {
    user_id: "alice",
    server_id: S,
    meta: { display_name: "Alice", pubkey: "KA" },
    pubkey: "KA",
  });
});

Deno.test("decide() answers NAME_IN_USE for a user id that is live and closes that link", () => {
  const d = given(arrived("alice", "KA", "L1")).when(hello("alice", "KA", "L2"));
  assert.deepEqual(d.events, []);
  assert.equal(d.verdict.accepted, false);
  assert.equal(sends(d.effects, "L2")[0]!.payload.code, "NAME_IN_USE");
  assert.ok(d.effects.some((e) => e.type === "Close" && e.link === "L2"));
  assert.ok(!d.effects.some((e) => "link" in e && e.link === "L1"));
});

Deno.test("decide() answers BAD_KEY when a known user id comes back with another key", () => {
  const world = given([...arrived("alice", "KA", "L1"), {
    type: "UserLeft",
    user_id: "alice",
    at_ms: 2,
    reason: "x",
  }]);
  const d = world.when(hello("alice", "OTHER", "L2"));
  assert.equal(sends(d.effects, "L2")[0]!.payload.code, "BAD_KEY");
  const again = world.when(hello("alice", "KA", "L3"));
  assert.deepEqual(again.events.map((e) => e.type), ["UserArrived", "PublicChannelJoined"]);
});

Deno.test("decide() delivers MSG_DIRECT to a local user keeping ts, sender and content_sig", () => {
  const world = given([...arrived("alice", "KA", "L1"), ...arrived("bob", "KB", "L2")]);
  const frame: FrameOf<"MSG_DIRECT"> = {
    type: "MSG_DIRECT",
    from: "alice",
    to: "bob",
    ts: 777,
    payload: { ciphertext: "CT", sender_pub: "KA", content_sig: "CS" },
    sig: "",
  };
  const d = world.when({ type: "FromUser", link: "L1", frame, raw: "{}", at_ms: 900 });
  const [deliver] = sends(d.effects, "L2");
  assert.equal(deliver!.type, "USER_DELIVER");
  assert.equal(deliver!.ts, 777);
  assert.equal(deliver!.from, S);
  assert.deepEqual(deliver!.payload, {
    ciphertext: "CT",
    sender: "alice",
    sender_pub: "KA",
    content_sig: "CS",
  });
});

Deno.test("decide() answers USER_NOT_FOUND for an unknown recipient", () => {
  const world = given(arrived("alice", "KA", "L1"));
  const frame: FrameOf<"MSG_DIRECT"> = {
    type: "MSG_DIRECT",
    from: "alice",
    to: "nobody",
    ts: 1,
    payload: { ciphertext: "CT", sender_pub: "KA", content_sig: "CS" },
    sig: "",
  };
  const d = world.when({ type: "FromUser", link: "L1", frame, raw: "{}", at_ms: 2 });
  assert.equal(sends(d.effects, "L1")[0]!.payload.code, "USER_NOT_FOUND");
});

Deno.test("decide() drops frames from a link that is not the user's", () => {
  const world = given(arrived("alice", "KA", "L1"));
  const frame: FrameOf<"LIST_REQUEST"> = {
    type: "LIST_REQUEST",
    from: "alice",
    to: S,
    ts: 1,
    payload: {},
    sig: "",
  };
  const d = world.when({ type: "FromUser", link: "L9", frame, raw: "{}", at_ms: 2 });
  assert.equal(d.verdict.accepted, false);
  assert.deepEqual(d.effects, []);
});

Deno.test("decide() answers LIST_REQUEST with sorted ids and entries", () => {
  const world = given([...arrived("zed", "KZ", "L1"), ...arrived("amy", "KA", "L2")]);
  const frame: FrameOf<"LIST_REQUEST"> = {
    type: "LIST_REQUEST",
    from: "zed",
    to: S,
    ts: 1,
    payload: {},
    sig: "",
  };
  const d = world.when({ type: "FromUser", link: "L1", frame, raw: "{}", at_ms: 2 });
  const [list] = sends(d.effects, "L1");
  assert.deepEqual(list!.payload.users, ["amy", "zed"]);
  assert.deepEqual((list!.payload.entries as { user_id: string }[]).map((e) => e.user_id), [
    "amy",
    "zed",
  ]);
});

Deno.test("decide() removes a user whose link closed and tells the others", () => {
  const world = given([...arrived("alice", "KA", "L1"), ...arrived("bob", "KB", "L2")]);
  const d = world.when({ type: "LinkClosed", link: "L1", reason: "gone", at_ms: 5 });
  assert.deepEqual(d.events.map((e) => e.type), ["UserLeft"]);
  const [remove] = sends(d.effects, "L2");
  assert.equal(remove!.type, "USER_REMOVE");
  assert.equal(world.state.user_locations.has("alice"), false);
  assert.equal(world.state.users.has("alice"), true, "the key binding survives leaving");
});

Deno.test("fold() after ServerStarted forgets local presence but keeps bound keys", () => {
  const started: RouterEvent = {
    type: "ServerStarted",
    server_id: S,
    server_pub: "SPUB",
    at_ms: 0,
    build: "test",
  };
  const state = fold(S, [started, ...arrived("alice", "KA", "L1"), { ...started, at_ms: 50 }]);
  assert.equal(state.local_users.size, 0);
  assert.equal(state.user_locations.size, 0);
  assert.equal(state.users.get("alice")?.pubkey, "KA");
});
