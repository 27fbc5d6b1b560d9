// Goal: the transcript shows both sides with local times, names instead of ids, our own DM at
// once with its delivery state (the least advanced of its parts) updated as ACKs and receipts
// arrive, and transfers in progress on a status row that goes away at the end.
import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import { hhmm, overallState, type Sink, Transcript } from "./transcript.ts";
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

Deno.test("transcript: local times, both sides, names", () => {
  const clock = new ManualClock(at(14, 2));
  const sink = new RecordingSink();
  const names = (id: string) => ({ "id-bob": "bob" } as Record<string, string>)[id] ?? id;
  const t = new Transcript(sink, clock, names);
  assert.equal(hhmm(at(9, 5)), "09:05");
  t.show({ event: "dm", from: "id-bob", label: "bob", text: "hello", verified: true, ts: 1 });
  t.show({
    event: "file_offer",
    file_id: "f",
    from: "id-bob",
    name: "a.txt",
    size: 2048,
    verified: true,
  });
  t.show({
    event: "list",
    users: [
      { user_id: "id-z", label: "zed", server_id: "s" },
      { user_id: "id-bob", label: "bob", server_id: "s" },
      { user_id: "id-x", label: "bob", server_id: "s" },
    ],
  });
  assert.deepEqual(sink.lines, [
    "14:02 bob: hello",
    "14:02 * bob is sending a.txt (2.0 KiB)",
    "14:02 online (3):\n  bob (id-bob)\n  bob (id-x)\n  zed",
  ]);
});

Deno.test("transcript: own messages appear at once and follow their delivery", () => {
  const clock = new ManualClock(at(14, 2));
  const sink = new RecordingSink();
  const t = new Transcript(sink, clock, (id) => id);
  t.sent({ event: "sent", to: "id-bob", label: "bob", parts: 2, msg_refs: ["r1", "r2"] }, "hi");
  assert.deepEqual(sink.lines, ["14:02 me → bob: hi  … sent"]);
  t.show({ event: "delivery", msg_ref: "r2", status: "delivered", detail: "" });
  t.show({ event: "delivery", msg_ref: "r1", status: "delivered", detail: "" });
  t.show({ event: "delivery", msg_ref: "r1", status: "read", detail: "" });
  assert.deepEqual(sink.updates, [
    ["r1", "14:02 me → bob: hi  … sent"],
    ["r1", "14:02 me → bob: hi  ✓ delivered"],
    ["r1", "14:02 me → bob: hi  ✓ delivered"],
  ]);
  t.sent({ event: "sent", to: "public", label: "public channel", parts: 3 }, "all");
  assert.equal(sink.lines.at(-1), "14:02 me → public channel: all  (to 3 members)");
  // A part acknowledged before its message is shown (a long message still being encrypted).
  t.show({ event: "delivery", msg_ref: "me|id-bob|7", status: "queued", detail: "offline" });
  t.show({ event: "delivery", msg_ref: "me|id-bob|8", status: "queued", detail: "offline" });
  assert.equal(sink.lines.at(-1), "14:02 me → public channel: all  (to 3 members)", "not yet");
  t.sent({
    event: "sent",
    to: "id-bob",
    label: "bob",
    parts: 2,
    msg_refs: ["me|id-bob|7", "me|id-bob|8"],
  }, "long");
  assert.equal(sink.lines.at(-1), "14:02 me → bob: long  … queued (offline)");
  // A reference that is not ours at all is shown as it is.
  t.show({ event: "delivery", msg_ref: "LOGIN_X", status: "queued", detail: "odd" });
  assert.equal(sink.lines.at(-1), "14:02 * … queued (offline): odd");
  assert.equal(overallState(["delivered", "expired"]), "expired");
  assert.equal(overallState(["read", "queued"]), "queued");
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
