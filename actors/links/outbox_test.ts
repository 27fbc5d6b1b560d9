// Goal: an outbox sends in queue order even when seals finish out of order, holds frames while
// the socket is above its high-water mark (a slow reader is waited for, not cut off), and cuts a
// reader off once socket and outbox together hold more than OUTBOX_BYTES_MAX, or too many frames.
import assert from "node:assert/strict";
import { Outbox } from "./outbox.ts";
import { OUTBOX_BYTES_MAX, OUTBOX_SOCKET_HIGH_WATER_BYTES } from "../../protocol/limits.ts";

function fakeSocket() {
  const sent: string[] = [];
  return { sent, bufferedAmount: 0, send: (t: string) => void sent.push(t), close() {} };
}
const tick = () => new Promise((r) => setTimeout(r, 0));
const sleep = () => tick().then(() => {});

Deno.test("Outbox keeps queue order, and waits while the socket is above its high water", async () => {
  const socket = fakeSocket();
  const overflows: string[] = [];
  const outbox = new Outbox(socket, 100, (r) => void overflows.push(r), sleep);
  let finishFirst!: (t: string) => void;
  outbox.push(new Promise<string>((r) => (finishFirst = r)));
  outbox.push("second");
  await tick();
  assert.deepEqual(socket.sent, [], "the second waits for the first");
  finishFirst("first");
  await outbox.flushed();
  assert.deepEqual(socket.sent, ["first", "second"]);

  socket.bufferedAmount = OUTBOX_SOCKET_HIGH_WATER_BYTES + 1;
  for (let i = 0; i < 5; i++) outbox.push(`f${i}`);
  for (let i = 0; i < 5; i++) await tick();
  assert.equal(socket.sent.length, 2, "held while the reader is behind");
  assert.equal(outbox.depth, 5);
  socket.bufferedAmount = 0;
  await outbox.flushed();
  assert.deepEqual(socket.sent.slice(2), ["f0", "f1", "f2", "f3", "f4"]);
  assert.deepEqual(overflows, []);
});

Deno.test("Outbox cuts off a reader once too many bytes or frames wait", async () => {
  const socket = fakeSocket();
  socket.bufferedAmount = OUTBOX_SOCKET_HIGH_WATER_BYTES + 1;
  const overflows: string[] = [];
  const outbox = new Outbox(socket, 1_000, (r) => void overflows.push(r), sleep);
  const mib = "x".repeat(1024 * 1024);
  for (let i = 0; i * mib.length <= OUTBOX_BYTES_MAX; i++) outbox.push(mib);
  await outbox.flushed();
  assert.equal(overflows.length, 1);
  assert.match(overflows[0]!, /^outbox full \(\d+ bytes unsent\): slow consumer$/);
  assert.equal(socket.sent.length, 0);
  assert.equal(outbox.push("late"), false, "a cut-off outbox takes nothing");

  const counted = new Outbox(fakeSocket(), 3, (r) => void overflows.push(r), sleep);
  for (let i = 0; i < 3; i++) assert.equal(counted.push(new Promise(() => {})), true);
  assert.equal(counted.push("one too many"), false);
  assert.match(overflows[1]!, /^outbox full \(3 frames queued\): slow consumer$/);
});

Deno.test("Outbox.written waits for the socket's buffer to empty, and no longer than its bound", async () => {
  const socket = fakeSocket();
  let slept = 0;
  const counting = (ms: number) => (slept += ms, sleep());
  const outbox = new Outbox(socket, 100, () => {}, counting);
  outbox.push("last error");
  socket.bufferedAmount = 10;
  let written = false;
  const done = outbox.written(1_000).then(() => (written = true));
  for (let i = 0; i < 5; i++) await tick();
  assert.deepEqual(socket.sent, ["last error"]);
  assert.equal(written, false, "still waiting while the socket holds bytes");
  socket.bufferedAmount = 0;
  await done;

  // A socket that never drains is waited for about `maxMs`, then given up on.
  socket.bufferedAmount = 10;
  slept = 0;
  await outbox.written(50);
  assert.ok(slept >= 50 && slept <= 60, `waited ${slept} ms`);
});
