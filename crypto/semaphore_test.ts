/** The in-flight bound used for private-key operations. */

import assert from "node:assert/strict";
import { Semaphore } from "./semaphore.ts";

Deno.test("semaphore: never more than max in flight, FIFO, released on failure", async () => {
  const gate = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const releases: Array<() => void> = [];
  const tasks = [0, 1, 2, 3, 4].map((i) =>
    gate.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise<void>((resolve) => releases.push(resolve));
      running--;
      if (i === 1) throw new Error("task 1 fails");
      return i;
    })
  );
  // Attach now: task 1's rejection must not go unhandled while the others still run.
  const settled = Promise.allSettled(tasks);
  await Promise.resolve();
  assert.equal(gate.active, 2);
  assert.equal(gate.waiting, 3);
  while (order.length < 5 || releases.length > 0) {
    const release = releases.shift();
    if (release === undefined) {
      await new Promise((r) => setTimeout(r, 0));
      continue;
    }
    release();
    await new Promise((r) => setTimeout(r, 0));
  }
  const results = await settled;
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.equal(results[1]!.status, "rejected");
  assert.deepEqual(results.filter((r) => r.status === "fulfilled").map((r) => r.value), [
    0,
    2,
    3,
    4,
  ]);
  assert.equal(gate.active, 0);
  assert.equal(gate.waiting, 0);
});

Deno.test("semaphore: size must be a positive integer", () => {
  assert.throws(() => new Semaphore(0), RangeError);
  assert.throws(() => new Semaphore(1.5), RangeError);
});
