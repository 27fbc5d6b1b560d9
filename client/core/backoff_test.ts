import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";

Deno.test("the reconnect delay doubles up to the maximum, with half of it random", () => {
  const policy = { baseMs: 1000, maxMs: 30_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 0.999999, policy)), [
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
  ]);
  assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, 0, policy)), [500, 1000, 2000]);
  assert.equal(backoffDelay(1000, 0.5, policy), 22_500);
  assert.equal(backoffDelay(0, 0, DEFAULT_BACKOFF), DEFAULT_BACKOFF.baseMs / 2);
});
