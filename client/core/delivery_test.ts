import assert from "node:assert/strict";
import { DeliveryTracker } from "./delivery.ts";

Deno.test("a message's state is its least advanced part's, and never goes back", () => {
  const t = new DeliveryTracker();
  assert.deepEqual(t.sent("bob", 7, ["r1", "r2"]), {
    msg_ref: "r1",
    to: "bob",
    ts: 7,
    state: "sent",
  });
  assert.equal(t.update("r1", "delivered"), undefined);
  assert.deepEqual(t.update("r2", "queued"), { msg_ref: "r1", to: "bob", ts: 7, state: "queued" });
  assert.equal(t.update("r2", "queued"), undefined);
  assert.equal(t.update("r2", "sent"), undefined);
  assert.equal(t.update("r2", "delivered")?.state, "delivered");
  assert.equal(t.update("r2", "read"), undefined);
  assert.equal(t.update("r1", "read")?.state, "read");
  assert.equal(t.update("other", "delivered"), undefined);
  assert.equal(t.update("r1", "bogus"), undefined);
});

Deno.test("the tracker forgets its oldest message when full", () => {
  const t = new DeliveryTracker(2);
  t.sent("a", 1, ["a1"]);
  t.sent("b", 2, ["b1"]);
  t.sent("c", 3, ["c1"]);
  assert.equal(t.get("a1"), undefined);
  assert.equal(t.update("a1", "delivered"), undefined);
  assert.equal(t.update("c1", "delivered")?.to, "c");
});

Deno.test("a part acknowledged before its message is tracked counts when it is", () => {
  const t = new DeliveryTracker(4);
  // The first part's ACK comes while the second part is still being encrypted.
  assert.equal(t.update("p1", "delivered"), undefined);
  assert.equal(t.sent("bob", 9, ["p1", "p2"]).state, "sent");
  assert.equal(t.update("p2", "delivered")?.state, "delivered");
  // Every part early: the message starts in their state.
  t.update("q1", "queued");
  assert.equal(t.sent("bob", 10, ["q1"]).state, "queued");
});
