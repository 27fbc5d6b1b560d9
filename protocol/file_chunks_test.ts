// Goal: a file is whole only when every index up to the last is there and the sizes add up; the
// order chunks arrived in does not matter, and a failure names what is missing.
import assert from "node:assert/strict";
import { assembleChunks } from "./file_chunks.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

Deno.test("assembleChunks joins chunks by index, whatever order they came in", () => {
  const chunks = new Map([[2, bytes(5)], [0, bytes(1, 2)], [1, bytes(3, 4)]]);
  assert.deepEqual(assembleChunks(chunks, 5), { data: bytes(1, 2, 3, 4, 5) });
  assert.deepEqual(assembleChunks(new Map(), 0), { data: bytes() });
});

Deno.test("assembleChunks names missing chunks and a size that does not add up", () => {
  assert.deepEqual(assembleChunks(new Map([[0, bytes(1)], [3, bytes(2)]]), 2), {
    failure: "incomplete: missing chunk(s) 1, 2",
  });
  assert.deepEqual(assembleChunks(new Map([[0, bytes(1)], [1, bytes(2)]]), 3), {
    failure: "incomplete: got 2 of 3 bytes",
  });
  const many = new Map([[100, bytes(1)]]);
  const failure = (assembleChunks(many, 1) as { failure: string }).failure;
  assert.equal(failure.split(", ").length, 20, "at most 20 indexes are named");
});
