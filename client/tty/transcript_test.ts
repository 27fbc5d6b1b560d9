// Goal: the transcript shows one line per whole message, both sides, with the local time it was
// written and names instead of ids; our own DM with its delivery state updated in place as the
// core reports it; and transfers in progress on a status row that goes away at the end.
import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import { hhmm, type Sink, Transcript } from "./transcript.ts";
import type { ClientEvent } from "../session.ts";
import { progressBar, ProgressMeter } from "../progress.ts";

class RecordingSink implements Sink {
  lines: string[] = [];
  updates: [string, string][] = [];
  rows = new Map<string, string>();
  print(text: string) {
    this.lines.push(text);
  }
  update(id: string, text: string) {
    this.updates.push([id, text]);
  }
  status(key: string, text: string | undefined) {
    if (text === undefined) this.rows.delete(key);
    else this.rows.set(key, text);
  }
}

/** 14:02 local time today. */
function at(hours: number, minutes: number): number {
  const d = new Date(2026, 11, 6, hours, minutes, 30);
  return d.getTime();
}

/** A whole message as the core reports it. */
function message(over: Partial<Message>): Message {
  return {
    event: "message",
    direction: "in",
    conv: "id-bob",
    from: "id-bob",
    to: "id-me",
    label: "bob",
    text: "hello",
    ts: at(14, 2),
    verified: true,
    parts: 1,
    missing: [],
    ...over,
  };
}
type Message = Extract<ClientEvent, { event: "message" }>;

Deno.test("transcript: whole messages with their local times, both sides, names", () => {
  const clock = new ManualClock(at(15, 0));
  const sink = new RecordingSink();
  const names = (id: string) => ({ "id-bob": "bob" } as Record<string, string>)[id] ?? id;
  const t = new Transcript(sink, clock, names);
  assert.equal(hhmm(at(9, 5)), "09:05");
  // Per-frame events are for scripts: the whole message makes the line.
  t.show({ event: "dm", from: "id-bob", label: "bob", text: "hel", verified: true, ts: 1 });
  t.show(message({ text: "hello there", parts: 2 }));
  t.show(message({ conv: "public", to: "public", text: "hi all", ts: at(14, 3) }));
  t.show(message({ text: "a [… part 2 missing …] c", parts: 3, missing: [2] }));
  t.show({
    event: "file_offer",
    file_id: "f",
    from: "id-bob",
    label: "bob",
    name: "a.txt",
    size: 2048,
    verified: true,
    mode: "dm",
    ts: 1,
  });
  t.show({
    event: "list",
    users: [
      { user_id: "id-z", label: "zed", online: true },
      { user_id: "id-bob", label: "bob", online: true },
      { user_id: "id-x", label: "bob", online: false },
    ],
  });
  assert.deepEqual(sink.lines, [
    "14:02 bob: hello there",
    "14:03 [public] bob: hi all",
    "14:02 bob: a [… part 2 missing …] c   (parts missing: 2)",
    "15:00 * bob is sending a.txt (2.0 KiB)",
    "15:00 online (2, 1 known offline):\n  bob (id-bob)\n  bob (id-x)  (offline)\n  zed",
  ]);
});

Deno.test("transcript: own messages appear once, whole, and follow their delivery state", () => {
  const clock = new ManualClock(at(15, 0));
  const sink = new RecordingSink();
  const t = new Transcript(sink, clock, (id) => (id === "id-bob" ? "bob" : id));
  const mine = { direction: "out" as const, from: "id-me", to: "id-bob", label: "me" };
  t.show({ event: "sent", to: "id-bob", label: "bob", parts: 2, msg_refs: ["r1", "r2"] });
  t.show(message({ ...mine, text: "hi", parts: 2, msg_ref: "r1", state: "sent" }));
  assert.deepEqual(sink.lines, ["14:02 me → bob: hi  … sent"]);
  t.show({ event: "delivery", msg_ref: "r2", status: "delivered", detail: "" });
  t.show({ event: "message_state", msg_ref: "r1", to: "id-bob", ts: 1, state: "delivered" });
  t.show({ event: "message_state", msg_ref: "r1", to: "id-bob", ts: 1, state: "read" });
  assert.deepEqual(sink.updates, [
    ["r1", "14:02 me → bob: hi  ✓ delivered"],
    ["r1", "14:02 me → bob: hi  ✓✓ read"],
  ]);
  t.show(message({ ...mine, conv: "public", to: "public", text: "all", recipients: 3 }));
  assert.equal(sink.lines.at(-1), "14:02 me → public channel: all  (to 3 members)");
  // A status the core does not follow per message (it expired) is a line of its own.
  t.show({ event: "delivery", msg_ref: "me|id-bob|7", status: "expired", detail: "too old" });
  assert.equal(sink.lines.at(-1), "15:00 * ✗ expired undelivered: too old");
  assert.equal(sink.lines.length, 3);
});

Deno.test("transcript: progress on a status row; the end is a line", () => {
  const sink = new RecordingSink();
  const t = new Transcript(sink, new ManualClock(at(8, 0)), (id) => id);
  const base = { file_id: "f1", name: "a.bin", direction: "receive" as const, total: 2048 };
  t.show({ event: "progress", ...base, bytes: 1024, rate_bps: 512, eta_s: 2 });
  assert.match(sink.rows.get("progress f1")!, /\[#{12}\.{12}\] {2}50% .* ETA 2 s$/);
  t.show({ event: "progress", ...base, bytes: 2048, rate_bps: 1024, eta_s: 0 });
  assert.equal(sink.rows.size, 0);
  assert.match(
    sink.lines.at(-1)!,
    /^08:00 ↓ a\.bin \[#{24}\] 100% 2\.0 KiB\/2\.0 KiB .* received$/,
  );
  assert.match(
    progressBar({ ...base, bytes: 0, rate_bps: 0, eta_s: 3725 }),
    /ETA 62 min 5 s$/,
  );
});

Deno.test("progress meter: throttled, and the end reported once", () => {
  const clock = new ManualClock();
  const reports: number[] = [];
  const meter = new ProgressMeter(
    { file_id: "f", name: "a", direction: "send", total: 100 },
    () => clock.now(),
    (p) => reports.push(p.bytes),
  );
  meter.update(10);
  meter.update(20);
  clock.advance(300);
  meter.update(30);
  meter.update(100);
  meter.update(100);
  assert.deepEqual(reports, [10, 30, 100]);
});

Deno.test("transcript: /history with dates and names; a file ready to accept; a trusted key", () => {
  const sink = new RecordingSink();
  const names = (id: string) => ({ "id-bob": "bob", "id-me": "me" } as Record<string, string>)[id]!;
  const t = new Transcript(sink, new ManualClock(at(15, 0)), names);
  t.show({
    event: "history",
    with: "bob",
    entries: [
      { ts: at(9, 5), from: "id-bob", to: "id-me", text: "hi", verified: true },
      { ts: at(9, 6), from: "id-me", to: "id-bob", text: "hello", verified: true },
    ],
  });
  t.show({ event: "history", with: "bob", entries: [] });
  t.show({
    event: "file_ready",
    file_id: "0123456789abcdef",
    from: "id-bob",
    label: "bob",
    name: "a.txt",
    size: 10,
    sha256: "00",
    verified: true,
  });
  t.show({ event: "trusted", user_id: "id-bob", label: "bob" });
  assert.deepEqual(sink.lines, [
    "15:00 history with bob (2):\n  2026-12-06 09:05 bob: hi\n  2026-12-06 09:06 me: hello",
    "15:00 no history with bob",
    "15:00 * bob's file a.txt (10 B) is ready: /accept 01234567 saves it",
    "15:00 * bob's new key is trusted: messages to them go out again",
  ]);
});
