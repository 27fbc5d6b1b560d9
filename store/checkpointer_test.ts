// Goal (performance, robustness): with a checkpointing thread, the writer no longer copies its
// WAL into the database every thousand pages; the thread does, after commits; closing the store
// stops the thread first, so the writer's own close checkpoints the rest and removes the WAL.
import assert from "node:assert/strict";
import { Store } from "./store.ts";
import { CHECKPOINT_INTERVAL_MS, WAL_BACKSTOP_PAGES } from "../protocol/limits.ts";
import { eventually } from "../tests/harness/processes.ts";

const ROWS = 400;
/** A journal row of about a page: 400 of them stay under SQLite's own checkpoint (1 000 pages). */
const row = (i: number) => ({
  at_ms: i,
  link: "user:bench",
  kind: "frame" as const,
  raw: crypto.getRandomValues(new Uint8Array(3_000)).toBase64(),
  input: "",
  verdict: "accepted" as const,
  reason: "",
  event_seq: 0,
});

Deno.test("checkpointer: the WAL reaches the database on its own thread; close leaves no WAL", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/t.sqlite`;
  const failures: string[] = [];
  const store = Store.open(path, { checkpointThread: { onFailure: (why) => failures.push(why) } });
  try {
    const pragma = store.db.prepare("PRAGMA wal_autocheckpoint").get() as Record<string, number>;
    assert.equal(Object.values(pragma)[0], WAL_BACKSTOP_PAGES, "the writer's own is a backstop");
    const before = Deno.statSync(path).size;
    for (let i = 0; i < ROWS; i++) {
      store.journal(row(i));
      if (i % 10 === 9) store.commit();
    }
    assert.ok(Deno.statSync(`${path}-wal`).size > ROWS * 3_000, "the rows are in the WAL");
    await eventually(
      "the checkpointing thread to copy the rows into the database",
      () => Deno.statSync(path).size > before + ROWS * 3_000,
      5 * CHECKPOINT_INTERVAL_MS,
    );
  } finally {
    store.close();
  }
  assert.throws(() => Deno.statSync(`${path}-wal`), Deno.errors.NotFound);
  assert.deepEqual(failures, []);
  const again = Store.open(path);
  assert.equal([...again.readJournal()].length, ROWS);
  again.close();
});
