// Goal: a long log folds from a reading thread exactly as it reads here, pending events
// included, and a thread that cannot read fails the fold instead of ending it early.
import assert from "node:assert/strict";
import { READ_CHUNK_EVENTS } from "../protocol/limits.ts";
import type { StoredEvent } from "./events.ts";
import { awkwardEvent } from "./_store_spec.ts";
import { readLogAhead } from "./read_ahead.ts";
import { Store } from "./store.ts";

async function readAll(store: Store, minEvents: number): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for await (const chunk of readLogAhead(store, minEvents)) all.push(...chunk);
  return all;
}

Deno.test("readLogAhead reads a file's log on its thread as readEvents does, pending events too", async () => {
  const dir = await Deno.makeTempDir();
  const store = Store.open(`${dir}/t.sqlite`);
  const count = 2 * READ_CHUNK_EVENTS + 500;
  const written = Array.from({ length: count }, (_, i) => awkwardEvent(i));
  store.append(written.slice(0, count - 300));
  store.commit();
  store.append(written.slice(count - 300));
  const ahead = await readAll(store, 0);
  assert.equal(ahead.length, count);
  ahead.forEach((e, i) => assert.deepEqual(e, { seq: i + 1, ...written[i] }));
  assert.deepEqual(ahead, [...store.readEvents()]);
  store.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readLogAhead fails when its thread cannot read the log, and reads a short one here", async () => {
  const dir = await Deno.makeTempDir();
  const store = Store.open(`${dir}/t.sqlite`);
  store.append(Array.from({ length: 10 }, (_, i) => awkwardEvent(i)));
  store.commit();
  // The open connection still reads the unlinked file; a new one (the thread's) cannot.
  await Deno.remove(dir, { recursive: true });
  await assert.rejects(() => readAll(store, 0), /reading the event log: .*open/);
  assert.equal((await readAll(store, 11)).length, 10);
  store.close();
});

Deno.test("readLogAhead stops its thread when the fold stops early", async () => {
  const dir = await Deno.makeTempDir();
  const store = Store.open(`${dir}/t.sqlite`);
  store.append(Array.from({ length: 3 * READ_CHUNK_EVENTS }, (_, i) => awkwardEvent(i)));
  let chunks = 0;
  for await (const chunk of readLogAhead(store, 0)) {
    assert.equal([...chunk].length, READ_CHUNK_EVENTS);
    if (++chunks === 1) break;
  }
  assert.equal(chunks, 1);
  store.close();
  await Deno.remove(dir, { recursive: true });
});
