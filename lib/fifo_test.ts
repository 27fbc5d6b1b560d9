// Goal: the FIFO keeps order across many pushes and shifts (including the compaction of its
// consumed prefix) and reports its length.
import assert from "node:assert/strict";
import { Fifo } from "./fifo.ts";

Deno.test("Fifo keeps order across compactions", () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) q.push(next++);
    for (let i = 0; i < 200; i++) assert.equal(q.shift(), expected++);
    assert.equal(q.length, next - expected);
    assert.equal(q.peek(), expected);
  }
  while (q.length > 0) assert.equal(q.shift(), expected++);
  assert.equal(expected, next);
  q.push(7);
  q.clear();
  assert.equal(q.length, 0);
});
