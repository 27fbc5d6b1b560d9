// Goal (ack_batches): delivery ACKs to one server that wait for their signature share it; a
// batch closes when its signing starts, never mixes servers, and never exceeds ACK_REFS_MAX.
import assert from "node:assert/strict";
import { AckBatcher } from "./ack_batch.ts";
import { ACK_REFS_MAX } from "../../protocol/limits.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

const ack = (to: string, ref: string): UnsignedFrame => ({
  type: "ACK",
  from: "me",
  to,
  ts: 1,
  payload: { msg_ref: ref, status: "delivered" },
});

Deno.test("AckBatcher: ACKs join the batch that waits, until its signing starts", () => {
  const acks = new AckBatcher();
  assert.equal(acks.joined(ack("s1", "r1")), false, "nothing open yet");
  const batch = acks.open(ack("s1", "r1"));
  assert.equal(acks.joined(ack("s1", "r2")), true);
  assert.equal(acks.joined(ack("s2", "x")), false, "another server's ACK never joins");
  assert.equal(acks.joined(ack("s1", "r3")), true);
  assert.deepEqual(batch.frame.payload, {
    msg_ref: "r1",
    status: "delivered",
    msg_refs: ["r1", "r2", "r3"],
  });
  batch.onStart();
  assert.equal(acks.joined(ack("s1", "r4")), false, "its payload is being signed");
  assert.deepEqual((batch.frame.payload as { msg_refs: string[] }).msg_refs, ["r1", "r2", "r3"]);
});

Deno.test("AckBatcher: a batch holds at most ACK_REFS_MAX references", () => {
  const acks = new AckBatcher();
  const batch = acks.open(ack("s1", "r0"));
  let n = 1;
  while (acks.joined(ack("s1", `r${n}`))) n++;
  assert.equal(n, ACK_REFS_MAX);
  assert.equal((batch.frame.payload as { msg_refs: string[] }).msg_refs.length, ACK_REFS_MAX);
  // A newer batch replaces the full one; closing the old one then leaves the new one open.
  const next = acks.open(ack("s1", "late"));
  batch.onStart();
  assert.equal(acks.joined(ack("s1", "later")), true);
  assert.deepEqual((next.frame.payload as { msg_refs: string[] }).msg_refs, ["late", "later"]);
});
