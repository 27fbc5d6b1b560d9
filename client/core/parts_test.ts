import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import {
  MESSAGE_PARTS_MAX,
  OAEP_PLAINTEXT_BYTES_MAX,
  REASSEMBLY_WAIT_MS,
} from "../../protocol/limits.ts";
import { gapMarker, type Part, readPart, Reassembler, splitMessage, type Whole } from "./parts.ts";

const random = { bytes: (n: number) => new Uint8Array(n).fill(0xab) };
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const long = Array.from({ length: 150 }, (_, i) => `w${i}`).join(" ") + " " + "é".repeat(300);

function partsOf(text: string, from = "alice", ts = 1000): Part[] {
  return splitMessage(text, random).map((p, i) => ({
    conv: from,
    from,
    ts: ts + i,
    verified: true,
    ...readPart(decode(p)),
  }));
}

Deno.test("a short text is sent bare, a long one as numbered parts that fit one OAEP block", () => {
  assert.deepEqual(splitMessage("hi", random).map(decode), ["hi"]);
  const parts = splitMessage(long, random);
  assert.ok(parts.length >= 2);
  for (const p of parts) assert.ok(p.length <= OAEP_PLAINTEXT_BYTES_MAX);
  assert.match(decode(parts[0]!), /^\[1\/\d #abababab\] w0 w1/);
  assert.equal(partsOf(long).map((p) => p.text).join(""), long);
});

Deno.test("a message over the part limit is refused, not truncated", () => {
  assert.throws(() => splitMessage("x".repeat(MESSAGE_PARTS_MAX * 446), random), RangeError);
});

Deno.test("headers that are not well formed are plain text", () => {
  for (
    const t of [
      "[1/1 #abababab] x",
      "[3/2 #abababab] x",
      "[0/2 #abababab] x",
      "[1/2 #ABABABAB] x",
      "[1/99 #abababab] x",
    ]
  ) {
    assert.deepEqual(readPart(t), { text: t });
  }
});

Deno.test("parts in any order become one message; duplicates and bare parts are harmless", () => {
  const clock = new ManualClock();
  const out: Whole[] = [];
  const r = new Reassembler(clock, (w) => out.push(w));
  const parts = partsOf(long);
  r.add({ conv: "bob", from: "bob", ts: 5, verified: true, text: "unnumbered" });
  for (const p of [...parts].reverse()) r.add(p);
  assert.equal(out.length, 2);
  assert.deepEqual(out[0], {
    conv: "bob",
    from: "bob",
    ts: 5,
    verified: true,
    text: "unnumbered",
    parts: 1,
    missing: [],
  });
  assert.deepEqual(out[1], {
    conv: "alice",
    from: "alice",
    ts: 1000,
    verified: true,
    text: long,
    parts: parts.length,
    missing: [],
  });
  assert.equal(r.pending, 0);
  r.add(parts[0]!); // A copy after the message was shown: on its own, marked late.
  assert.equal(out[2]!.text, `[late part 1 of ${parts.length}] ${parts[0]!.text}`);
  assert.equal(r.pending, 0);
});

Deno.test("one unverified part makes the whole message unverified", () => {
  const out: Whole[] = [];
  const r = new Reassembler(new ManualClock(), (w) => out.push(w));
  const parts = partsOf(long);
  parts[1]!.verified = false;
  for (const p of parts) r.add(p);
  assert.equal(out[0]!.verified, false);
});

Deno.test("a missing part shows as a gap after the wait, on the injected clock", () => {
  const clock = new ManualClock();
  const out: Whole[] = [];
  const r = new Reassembler(clock, (w) => out.push(w));
  const parts = partsOf(long);
  for (const p of parts.filter((_, i) => i !== 1)) r.add(p);
  clock.advance(REASSEMBLY_WAIT_MS - 1);
  assert.equal(out.length, 0);
  clock.advance(1);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.missing, [2]);
  assert.equal(out[0]!.verified, false);
  assert.ok(out[0]!.text.includes(gapMarker(2, parts.length)));
  assert.ok(out[0]!.text.startsWith(parts[0]!.text));
  r.add(parts[1]!); // Too late: shown on its own.
  assert.equal(out[1]!.text, `[late part 2 of ${parts.length}] ${parts[1]!.text}`);
  assert.equal(r.pending, 0);
});

Deno.test("the buffer is bounded: the oldest open message is shown when it is full", () => {
  const out: Whole[] = [];
  const r = new Reassembler(new ManualClock(), (w) => out.push(w), 1000, 2);
  const a = partsOf(long, "a"), b = partsOf(long, "b"), c = partsOf(long, "c");
  r.add(a[0]!);
  r.add(b[0]!);
  assert.equal(out.length, 0);
  r.add(c[0]!);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.from, "a");
  assert.equal(r.pending, 2);
});

Deno.test("a sender cannot add parts to another sender's message", () => {
  const out: Whole[] = [];
  const r = new Reassembler(new ManualClock(), (w) => out.push(w));
  const parts = partsOf(long);
  r.add(parts[0]!);
  r.add({ ...parts[1]!, from: "mallory", conv: "mallory" });
  assert.equal(out.length, 0);
  assert.equal(r.pending, 2);
});
