// Goal: the map never holds more than `max` entries, and what goes is what was used longest ago.
import assert from "node:assert/strict";
import { LruMap } from "./lru.ts";

Deno.test("LruMap evicts the least recently used entry past its bound", () => {
  const map = new LruMap<string, number>(2);
  map.set("a", 1);
  map.set("b", 2);
  assert.equal(map.get("a"), 1); // a is now the most recently used
  map.set("c", 3);
  assert.equal(map.size, 2);
  assert.equal(map.get("b"), undefined, "b was used longest ago");
  assert.deepEqual([map.get("a"), map.get("c")], [1, 3]);
  map.set("c", 4); // replacing does not grow the map
  assert.equal(map.size, 2);
  assert.equal(map.delete("a"), true);
  assert.equal(map.size, 1);
});
