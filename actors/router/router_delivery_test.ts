// Goal: the reliable-delivery decisions, as given events / when an input / then events and
// effects: queueing for offline users with bounds and clear refusals, hand-over on hello, ACK
// retirement with receipts, expiry with notices, and server outboxes.
import assert from "node:assert/strict";
import type { Frame, FrameOf } from "../../protocol/mod.ts";
import { OFFLINE_QUEUE_AGE_MS_MAX, OFFLINE_QUEUE_MESSAGES_MAX } from "../../protocol/limits.ts";
import type { RouterEvent } from "../../store/events.ts";
import type { Decision, RouterInput } from "./router_messages.ts";
import { given as givenRouter } from "./_router_spec.ts";

const S = "s-me";
const T0 = 1_000_000_000;
const registered = (u: string): RouterEvent => ({
  type: "UserRegistered",
  user_id: u,
  pubkey: `K-${u}`,
  meta: {},
  at_ms: 1,
});
const arrived = (u: string, link: string, features: string[] = []): RouterEvent => ({
  type: "UserArrived",
  user_id: u,
  link,
  meta: {},
  at_ms: 1,
  features,
});

function given(events: RouterEvent[]) {
  return givenRouter(S, events, { server_pub: "SP" });
}
const dm = (from: string, to: string, ts: number): RouterInput => ({
  type: "FromUser",
  link: `L-${from}`,
  frame: {
    type: "MSG_DIRECT",
    from,
    to,
    ts,
    payload: { ciphertext: `CT${ts}`, sender_pub: `K-${from}`, content_sig: "CS" },
    sig: "",
  } as Frame,
  raw: "{}",
  at_ms: ts,
});
/** A user's ACK of a delivery (`payload`: msg_ref, type, and our extensions). */
const userAck = (u: string, payload: Record<string, unknown>, at_ms: number): RouterInput => ({
  type: "FromUser",
  link: `L-${u}`,
  frame: { type: "ACK", from: u, to: S, ts: at_ms, payload, sig: "" } as Frame,
  raw: "{}",
  at_ms,
});
const hello = (u: string, link: string, at_ms: number, features: string[] = []): RouterInput => ({
  type: "UserHello",
  link,
  frame: {
    type: "USER_HELLO",
    from: u,
    to: S,
    ts: at_ms,
    payload: { pubkey: `K-${u}`, features },
    sig: "",
  } as FrameOf<"USER_HELLO">,
  pubkey: `K-${u}`,
  raw: "{}",
  at_ms,
});
/** Server s-b, pinned and linked on LB with `features`, hosting bob. */
const bobAtLinkedServer = (features: string[]): RouterEvent[] => [
  { type: "ServerPinned", server_id: "s-b", pubkey: "KB", host: "h", port: 1, at_ms: 1, features },
  { type: "ServerLinked", server_id: "s-b", link: "LB", outbound: true, at_ms: 1, features },
  {
    type: "UserLocated",
    user_id: "bob",
    server_id: "s-b",
    pubkey: "K-bob",
    meta: {},
    advertise: "{}",
    at_ms: 1,
  },
];
const sentFrames = (d: Decision, link: string) =>
  d.effects.flatMap((e) => (e.type === "Send" && e.link === link ? [e.frame] : []));

Deno.test("a DM to an offline registered user is queued and the sender told; an unknown id is USER_NOT_FOUND", () => {
  const w = given([registered("alice"), arrived("alice", "L-alice"), registered("bob")]);
  const d = w.when(dm("alice", "bob", T0));
  assert.deepEqual(d.events.map((e) => e.type), ["MessageQueued"]);
  const [ack] = sentFrames(d, "L-alice");
  assert.deepEqual(ack!.payload, {
    msg_ref: `alice|bob|${T0}`,
    status: "queued",
    detail: "user bob is offline: queued until they connect",
  });
  const unknown = w.when(dm("alice", "nobody", T0 + 1));
  assert.equal(
    (sentFrames(unknown, "L-alice")[0]!.payload as { code: string }).code,
    "USER_NOT_FOUND",
  );
});

Deno.test("the queue is handed over in order on hello; without receipts it is retired at once", () => {
  const w = given([registered("alice"), arrived("alice", "L-alice"), registered("bob")]);
  for (let i = 0; i < 3; i++) w.when(dm("alice", "bob", T0 + i));
  const d = w.when(hello("bob", "L-bob", T0 + 10));
  const delivered = sentFrames(d, "L-bob").filter((f) => f.type === "USER_DELIVER");
  assert.deepEqual(delivered.map((f) => f.ts), [T0, T0 + 1, T0 + 2]);
  assert.equal(w.state.delivery.user_queues.has("bob"), false);
});

Deno.test("with receipts the queue waits for the client's ACK, and the sender gets MSG_RECEIPT", () => {
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice", ["receipts"]),
    registered("bob"),
  ]);
  w.when(dm("alice", "bob", T0));
  w.when(hello("bob", "L-bob", T0 + 10, ["receipts"]));
  assert.equal(w.state.delivery.user_queues.get("bob")?.length, 1, "kept until acknowledged");
  const d = w.when(userAck("bob", { msg_ref: `alice|bob|${T0}`, type: "USER_DELIVER" }, T0 + 11));
  assert.deepEqual(d.events.map((e) => e.type), ["MessageDequeued"]);
  assert.deepEqual(sentFrames(d, "L-alice")[0], {
    type: "MSG_RECEIPT",
    from: S,
    to: "alice",
    ts: T0 + 11,
    payload: { msg_ref: `alice|bob|${T0}`, status: "delivered", recipient: "bob" },
  });
});

Deno.test("a full queue refuses with a clear USER_NOT_FOUND detail", () => {
  const events: RouterEvent[] = [
    registered("alice"),
    arrived("alice", "L-alice"),
    registered("bob"),
  ];
  for (let i = 0; i < OFFLINE_QUEUE_MESSAGES_MAX; i++) {
    events.push({
      type: "MessageQueued",
      queue: "user",
      owner: "bob",
      item: { ref: `alice|bob|${i}`, sender: "alice", bytes: 10 },
      at_ms: T0,
    });
  }
  const d = given(events).when(dm("alice", "bob", T0 + 5));
  const [err] = sentFrames(d, "L-alice");
  assert.equal((err!.payload as { code: string }).code, "USER_NOT_FOUND");
  assert.match(
    (err!.payload as { detail: string }).detail,
    /offline and their queue is full \(1000 messages\)/,
  );
});

Deno.test("expired messages are dropped at hand-over and their senders told", () => {
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice", ["receipts"]),
    registered("bob"),
  ]);
  w.when(dm("alice", "bob", T0));
  const d = w.when(hello("bob", "L-bob", T0 + OFFLINE_QUEUE_AGE_MS_MAX + 1));
  assert.ok(d.events.some((e) => e.type === "MessageDequeued" && e.reason === "expired"));
  assert.equal(sentFrames(d, "L-bob").filter((f) => f.type === "USER_DELIVER").length, 0);
  assert.equal(
    (sentFrames(d, "L-alice").find((f) => f.type === "MSG_RECEIPT")!.payload as { status: string })
      .status,
    "expired",
  );
});

Deno.test("a server that last hosted the user keeps an outbox while unreachable, flushed when linked", () => {
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice"),
    ...bobAtLinkedServer(["delivery_acks"]),
    { type: "ServerUnlinked", server_id: "s-b", link: "LB", at_ms: 2, reason: "x" },
    { type: "UserUnlocated", user_id: "bob", server_id: "s-b", at_ms: 2 },
  ]);
  const d = w.when(dm("alice", "bob", T0));
  assert.equal(sentFrames(d, "L-alice")[0]!.payload.status, "queued");
  assert.equal(w.state.delivery.server_outboxes.get("s-b")?.length, 1);
  const linked = w.when({ type: "ServerDialed", link: "LB2", server_id: "s-b", at_ms: T0 + 5 });
  const flushed = sentFrames(linked, "LB2").filter((f) => f.type === "SERVER_DELIVER");
  assert.equal(flushed.length, 1);
  assert.equal(flushed[0]!.ts, T0, "the original ts survives the wait");
  assert.equal(w.state.delivery.server_outboxes.get("s-b")?.length, 1, "kept until the peer ACKs");
});

Deno.test("a server that joins again through us gets its welcome before what waited for it", () => {
  // Its join code reads the welcome first and refuses anything else: had the outbox gone first,
  // every join attempt would fail, replace the link and keep the outbox from ever being ACKed.
  const id = "b0000000-0000-4000-8000-00000000000b";
  const features = ["delivery_acks"];
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice"),
    { type: "ServerPinned", server_id: id, pubkey: "KB", host: "h", port: 1, at_ms: 1, features },
    { type: "ServerLinked", server_id: id, link: "LB", outbound: true, at_ms: 1, features },
    {
      type: "UserLocated",
      user_id: "bob",
      server_id: id,
      pubkey: "K-bob",
      meta: {},
      advertise: "{}",
      at_ms: 1,
    },
    { type: "ServerUnlinked", server_id: id, link: "LB", at_ms: 2, reason: "x" },
    { type: "UserUnlocated", user_id: "bob", server_id: id, at_ms: 2 },
  ]);
  w.when(dm("alice", "bob", T0));
  const join = w.when({
    type: "ServerHello",
    link: "LJ",
    frame: {
      type: "SERVER_HELLO_JOIN",
      from: id,
      to: S,
      ts: T0 + 5,
      payload: { host: "h", port: 1, pubkey: "KB", features },
      sig: "s",
    } as FrameOf<"SERVER_HELLO_JOIN">,
    pubkey: "KB",
    fresh_id: "unused",
    raw: "{}",
    at_ms: T0 + 5,
  });
  const types = sentFrames(join, "LJ").map((f) => f.type);
  assert.equal(types[0], "SERVER_WELCOME", types.join(", "));
  assert.ok(types.includes("SERVER_DELIVER"), "the outbox follows on the same link");
});

Deno.test("one ACK with msg_refs (ack_batches) retires every delivery it names, and nothing else", () => {
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice"),
    ...bobAtLinkedServer(["delivery_acks", "ack_batches"]),
  ]);
  for (let i = 0; i < 4; i++) w.when(dm("alice", "bob", T0 + i));
  const refs = w.state.delivery.server_outboxes.get("s-b")!.map((item) => item.ref);
  assert.equal(refs.length, 4, "each DM waits for its ACK");
  const ack: RouterInput = {
    type: "FromServer",
    link: "LB",
    frame: {
      type: "ACK",
      from: "s-b",
      to: S,
      ts: T0 + 10,
      payload: {
        msg_ref: refs[0]!,
        status: "delivered",
        msg_refs: [refs[0]!, refs[2]!, "unknown"],
      },
      sig: "x",
    } as Frame,
    pubkey: "KB",
    raw: "{}",
    at_ms: T0 + 10,
  };
  const d = w.when(ack);
  assert.equal(d.verdict.accepted, true, d.verdict.reason);
  assert.deepEqual(
    w.state.delivery.server_outboxes.get("s-b")!.map((item) => item.ref),
    [refs[1], refs[3]],
  );
});

Deno.test("file frames: receipts only where the receiver asks (per window, at the end)", () => {
  const w = given([
    registered("alice"),
    arrived("alice", "L-alice", ["receipts"]),
    registered("bob"),
    arrived("bob", "L-bob", ["receipts"]),
  ]);
  const ack = (ts: number, type: string, receipt?: boolean, recipient = "bob") =>
    userAck("bob", {
      msg_ref: `alice|${recipient}|${T0 + ts}`,
      type,
      ...(receipt === undefined ? {} : { receipt }),
    }, T0 + 100 + ts);
  // A chunk confirmed without asking: nothing for the sender (no receipt per chunk).
  assert.deepEqual(sentFrames(w.when(ack(1, "FILE_CHUNK")), "L-alice"), []);
  assert.deepEqual(sentFrames(w.when(ack(2, "FILE_CHUNK", false)), "L-alice"), []);
  // The last chunk of a window and the end, asked for: the sender is told.
  for (const [ts, type] of [[3, "FILE_CHUNK"], [4, "FILE_END"]] as const) {
    assert.deepEqual(sentFrames(w.when(ack(ts, type, true)), "L-alice"), [{
      type: "MSG_RECEIPT",
      from: S,
      to: "alice",
      ts: T0 + 100 + ts,
      payload: { msg_ref: `alice|bob|${T0 + ts}`, status: "delivered", recipient: "bob" },
    }]);
  }
  // Asking cannot make a receipt about someone else's frame: the ref must name the acker.
  assert.deepEqual(sentFrames(w.when(ack(5, "FILE_END", true, "carol")), "L-alice"), []);
});
