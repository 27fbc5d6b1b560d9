// Goal: the probe reads the variants other servers send (SOCP-1.3.md §5, §12): newline-framed or
// several objects per message, /list answers of every known shape, hello replies other than ACK,
// the original ts of a delivery wherever it survived.
import assert from "node:assert/strict";
import { parseFrames } from "./peer.ts";
import {
  deliveredTimestamps,
  errorCode,
  helloVerdict,
  isSorted,
  listedUsers,
  serverPubOf,
} from "./tolerant.ts";
import { hostPort } from "./link.ts";

Deno.test("parseFrames: trailing newline, several objects per message, junk dropped", () => {
  assert.deepEqual(parseFrames('{"type":"ACK","payload":{"msg_ref":"x"}}\n').map((f) => f.type), [
    "ACK",
  ]);
  const two = parseFrames('{"type":"A"}\n{"type":"B","payload":[1]}\nnot json\n[1,2]');
  assert.deepEqual(two.map((f) => f.type), ["A", "B"]);
  assert.deepEqual(two[1]!.payload, {}, "a non-object payload reads as {}");
  assert.deepEqual(parseFrames('{"no":"type"}'), []);
});

Deno.test("listedUsers: every /list shape of §3.11; other frames are not lists", () => {
  const f = (
    type: string,
    rest: Record<string, unknown>,
    payload: Record<string, unknown> = {},
  ) => ({
    type,
    payload,
    ...rest,
  });
  assert.deepEqual(listedUsers(f("LIST_RESPONSE", {}, { users: ["b", "a"] })), ["b", "a"]);
  assert.deepEqual(
    listedUsers(f("LIST_RESPONSE", {}, { users: [{ user_id: "a", pubkey: "K" }, { id: "b" }] })),
    ["a", "b"],
  );
  assert.deepEqual(listedUsers(f("USER_LIST", {}, { online_users: ["x"] })), ["x"]);
  assert.deepEqual(listedUsers(f("LIST_RESPONSE", { users: ["top"] })), ["top"], "non-envelope");
  assert.equal(listedUsers(f("ACK", {}, { users: ["a"] })), undefined);
  assert.ok(isSorted(["a", "b", "b", "c"]));
  assert.ok(!isSorted(["b", "a"]));
});

Deno.test("helloVerdict: ACK, custom welcomes and a self-advertise accept; ERROR rejects", () => {
  const me = "u-1";
  assert.equal(helloVerdict({ type: "ACK", payload: {} }, me), "accepted");
  assert.equal(helloVerdict({ type: "USER_WELCOME", payload: {} }, me), "accepted");
  assert.equal(helloVerdict({ type: "AUTH_OK", payload: {} }, me), "accepted");
  assert.equal(helloVerdict({ type: "USER_ADVERTISE", payload: { user_id: me } }, me), "accepted");
  assert.equal(
    helloVerdict({ type: "USER_ADVERTISE", payload: { user_id: "other" } }, me),
    undefined,
  );
  assert.equal(helloVerdict({ type: "ERROR", payload: { code: "BAD_KEY" } }, me), "rejected");
  assert.equal(errorCode({ type: "ERROR", payload: {}, code: "BAD_KEY" }), "BAD_KEY", "bare code");
});

Deno.test("serverPubOf and deliveredTimestamps read the known aliases", () => {
  assert.equal(serverPubOf({ type: "ACK", payload: { server_pub: "K1" } }), "K1");
  assert.equal(serverPubOf({ type: "CLIENT_WELCOME", payload: { server_pubkey: "K2" } }), "K2");
  assert.equal(serverPubOf({ type: "USER_ADVERTISE", payload: { pubkey: "user key" } }), undefined);
  assert.deepEqual(
    deliveredTimestamps({ type: "USER_DELIVER", ts: 5, payload: { msg_ts: 3, orig_ts: 3 } }),
    [5, 3],
  );
});

Deno.test("hostPort: SERVER_HELLO_JOIN.to is host:port, default ports filled in", () => {
  assert.equal(hostPort("ws://10.0.0.11:8765"), "10.0.0.11:8765");
  assert.equal(hostPort("ws://example.org"), "example.org:80");
  assert.equal(hostPort("wss://example.org/"), "example.org:443");
});
