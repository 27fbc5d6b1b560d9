// Goal: the mailbox is bounded, FIFO, and runs one batch at a time without re-entrancy.
import assert from "node:assert/strict";
import { Mailbox } from "./mailbox.ts";

Deno.test("Mailbox.post() refuses messages past its capacity", async () => {
  const seen: number[] = [];
  const box = new Mailbox<number>(3, (batch) => void seen.push(...batch));
  assert.deepEqual([1, 2, 3, 4].map((n) => box.post(n)), [true, true, true, false]);
  await box.idle();
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("Mailbox handles batches in order, never two at once", async () => {
  const order: string[] = [];
  let running = 0;
  const box = new Mailbox<number>(100, async (batch) => {
    assert.equal(running++, 0);
    order.push(batch.join(","));
    await new Promise((r) => setTimeout(r, 1));
    running--;
  }, 2);
  for (let i = 0; i < 5; i++) box.post(i);
  await box.idle();
  assert.deepEqual(order, ["0,1", "2,3", "4"]);
});

Deno.test("Mailbox.close() refuses new messages", () => {
  const box = new Mailbox<number>(10, () => {});
  box.close();
  assert.equal(box.post(1), false);
});
