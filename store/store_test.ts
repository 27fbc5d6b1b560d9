// Goal: the event log appends and folds back in order, group commits are atomic, the journal is
// bounded, and the §15.1 projections can be rebuilt from the log alone.
import assert from "node:assert/strict";
import { Store } from "./store.ts";
import type { RouterEvent } from "./events.ts";
import { awkwardEvent } from "./_store_spec.ts";

const registered = (user: string, at_ms: number): RouterEvent => ({
  type: "UserRegistered",
  user_id: user,
  pubkey: `K-${user}`,
  meta: { display_name: user.toUpperCase() },
  at_ms,
});

Deno.test("Store uses WAL with synchronous=NORMAL", () => {
  const dir = Deno.makeTempDirSync();
  const store = Store.open(`${dir}/t.sqlite`);
  assert.equal(
    (store.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
    "wal",
  );
  assert.equal(
    (store.db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous,
    1,
  );
  store.close();
});

Deno.test("Store.append() buffers until commit, then reads back in order with seqs", () => {
  const store = Store.open(":memory:");
  const seqs = store.append([registered("a", 1), registered("b", 2)]);
  assert.deepEqual(seqs, [1, 2]);
  assert.equal([...store.readEvents()].length, 0);
  store.commit();
  const events = [...store.readEvents()];
  assert.deepEqual(events.map((e) => [e.seq, e.type, e.at_ms]), [[1, "UserRegistered", 1], [
    2,
    "UserRegistered",
    2,
  ]]);
  assert.deepEqual(events[1], { seq: 2, ...registered("b", 2) });
  store.close();
});

Deno.test("Store.readEvents() reads across chunk boundaries, within bounds, with exact values", () => {
  const store = Store.open(":memory:");
  const written = Array.from({ length: 4_500 }, (_, i) => awkwardEvent(i));
  store.append(written);
  store.commit();
  const all = [...store.readEvents()];
  assert.equal(all.length, 4_500);
  all.forEach((e, i) => assert.deepEqual(e, { seq: i + 1, ...written[i] }));
  assert.deepEqual([...store.readEvents(1_999, 2_003)].map((e) => e.seq), [
    1_999,
    2_000,
    2_001,
    2_002,
    2_003,
  ]);
  assert.deepEqual([...store.readEvents(4_500)].map((e) => e.seq), [4_500]);
  assert.equal([...store.readEvents(4_501)].length, 0);
  store.close();
});

Deno.test("Store keeps the users projection in step and rebuilds it from the log", () => {
  const store = Store.open(":memory:");
  store.append([registered("a", 1), {
    type: "UserArrived",
    user_id: "a",
    link: "L",
    meta: { display_name: "Al" },
    at_ms: 2,
  }]);
  store.commit();
  const row = () =>
    store.db.prepare(
      "SELECT user_id, pubkey, privkey_store, pake_password, meta, version FROM users",
    ).get();
  const before = row();
  assert.deepEqual({ ...before }, {
    user_id: "a",
    pubkey: "K-a",
    privkey_store: "",
    pake_password: "",
    meta: '{"display_name":"Al"}',
    version: 2,
  });
  store.db.exec("DELETE FROM users");
  store.rebuildProjections();
  assert.deepEqual({ ...row() }, { ...before });
  store.close();
});

Deno.test("Store journal keeps only the newest rows past its bound", () => {
  const store = Store.open(":memory:", { journalRowsMax: 5 });
  for (let i = 0; i < 12; i++) {
    store.journal({
      at_ms: i,
      link: "conn:1",
      kind: "frame",
      raw: `{"n":${i}}`,
      input: "",
      verdict: "accepted",
      reason: "",
      event_seq: 0,
    });
  }
  store.commit();
  const rows = [...store.readJournal()];
  assert.equal(rows.length, 5);
  assert.equal(rows.at(-1)!.raw, '{"n":11}');
  store.close();
});

Deno.test("Store survives reopening: events and meta persist", () => {
  const dir = Deno.makeTempDirSync();
  const a = Store.open(`${dir}/t.sqlite`);
  a.append([registered("x", 1)]);
  a.setMeta("build", "b1");
  a.close();
  const b = Store.open(`${dir}/t.sqlite`);
  assert.equal([...b.readEvents()].length, 1);
  assert.equal(b.getMeta("build"), "b1");
  assert.equal(b.lastSeq, 1);
  b.close();
});
