// Goal (ack_batches): delivery ACKs to one server share a signature: a batch waits its window,
// then keeps growing until its signing starts; it never mixes servers, never exceeds
// ACK_REFS_MAX, and one still in its window when the link goes down is handed back whole.
import assert from "node:assert/strict";
import { AckBatcher } from "./ack_batch.ts";
import { ACK_REFS_MAX } from "../../protocol/limits.ts";
import { ManualClock } from "../../lib/world.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

const ack = (to: string, ref: string): UnsignedFrame => ({
  type: "ACK",
  from: "me",
  to,
  ts: 1,
  payload: { msg_ref: ref, status: "delivered" },
});
const refs = (f: UnsignedFrame) => (f.payload as { msg_refs: string[] }).msg_refs;

function setUp() {
  const clock = new ManualClock();
  const sealed: { frame: UnsignedFrame; onStart: () => void }[] = [];
  const acks = new AckBatcher(clock, 200, (frame, onStart) => sealed.push({ frame, onStart }));
  return { clock, sealed, acks };
}

Deno.test("AckBatcher: ACKs join the batch through its window and until its signing starts", () => {
  const { clock, sealed, acks } = setUp();
  acks.add(ack("s1", "r1"));
  acks.add(ack("s1", "r2"));
  clock.advance(199);
  assert.equal(sealed.length, 0, "nothing is signed inside the window");
  clock.advance(1);
  assert.equal(sealed.length, 1);
  acks.add(ack("s1", "r3"));
  assert.deepEqual(sealed[0]!.frame.payload, {
    msg_ref: "r1",
    status: "delivered",
    msg_refs: ["r1", "r2", "r3"],
  });
  sealed[0]!.onStart();
  acks.add(ack("s1", "r4"));
  assert.deepEqual(refs(sealed[0]!.frame), ["r1", "r2", "r3"], "its payload is being signed");
  clock.advance(200);
  assert.deepEqual(refs(sealed[1]!.frame), ["r4"]);
});

Deno.test("AckBatcher: another server's ACK opens its own batch", () => {
  const { clock, sealed, acks } = setUp();
  acks.add(ack("s1", "r1"));
  acks.add(ack("s2", "x"));
  clock.advance(200);
  assert.deepEqual(sealed.map((s) => [s.frame.to, refs(s.frame)]), [["s1", ["r1"]], ["s2", ["x"]]]);
});

Deno.test("AckBatcher: a full batch goes to the signer at once, the next one starts", () => {
  const { sealed, acks } = setUp();
  for (let n = 0; n < ACK_REFS_MAX; n++) acks.add(ack("s1", `r${n}`));
  assert.equal(sealed.length, 1, "full before its window ended");
  assert.equal(refs(sealed[0]!.frame).length, ACK_REFS_MAX);
  acks.add(ack("s1", "late"));
  sealed[0]!.onStart();
  acks.add(ack("s1", "later"));
  const unsent = acks.takeUnsent();
  assert.deepEqual(unsent && refs(unsent), ["late", "later"]);
});

Deno.test("AckBatcher: a batch in its window is handed back whole, and can be re-added", () => {
  const { clock, sealed, acks } = setUp();
  acks.add(ack("s1", "r1"));
  acks.add(ack("s1", "r2"));
  const unsent = acks.takeUnsent()!;
  assert.deepEqual(refs(unsent), ["r1", "r2"]);
  assert.equal(acks.takeUnsent(), undefined);
  clock.advance(1_000);
  assert.equal(sealed.length, 0, "its timer is gone");
  // On the server's other link, the handed-back batch joins or opens a batch, refs intact.
  const other = setUp();
  other.acks.add(ack("s1", "r0"));
  other.acks.add(unsent);
  other.clock.advance(200);
  assert.deepEqual(refs(other.sealed[0]!.frame), ["r0", "r1", "r2"]);
  // A batch already with the signer is the link's own to send.
  acks.add(ack("s1", "r3"));
  clock.advance(200);
  assert.equal(acks.takeUnsent(), undefined);
});
