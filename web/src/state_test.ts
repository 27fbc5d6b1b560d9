/// <reference lib="deno.ns" />
import assert from "node:assert/strict";
import { initialState, PUBLIC, reduce } from "./state.ts";
import type { MessageEvent } from "../../client/core/events.ts";

const me = "me-id";
const bob = "bob-id";

function incoming(text: string, conv = bob, ts = 1000): MessageEvent {
  return {
    event: "message",
    direction: "in",
    conv,
    from: bob,
    to: conv === PUBLIC ? PUBLIC : me,
    label: "bob",
    text,
    ts,
    verified: true,
    parts: 1,
    missing: [],
  };
}

Deno.test("a message lands in its conversation; unread counts only conversations not shown", () => {
  const s0 = initialState();
  const s1 = reduce(s0, incoming("hi"));
  assert.notEqual(s1, s0);
  assert.deepEqual(s1.conversations.get(bob)?.map((m) => m.text), ["hi"]);
  assert.equal(s1.unread.get(bob), 1);
  assert.deepEqual(s1.changed, { conv: bob, id: 1, added: true });
  const s2 = reduce(s1, incoming("to all", PUBLIC));
  assert.equal(s2.unread.get(PUBLIC), undefined, "the public channel is shown");
  const s3 = reduce(s2, { event: "select", conv: bob });
  assert.equal(s3.current, bob);
  assert.equal(s3.unread.get(bob), undefined);
  assert.equal(s0.conversations.size, 0, "earlier states are untouched");
  assert.equal(s1.unread.get(bob), 1);
});

Deno.test("our DM follows its delivery state; a gap in a long message is kept", () => {
  const sent: MessageEvent = {
    ...incoming("a long one"),
    direction: "out",
    from: me,
    to: bob,
    conv: bob,
    msg_ref: `${me}|${bob}|1000`,
    state: "sent",
    parts: 3,
  };
  const s1 = reduce(initialState(), sent);
  assert.equal(s1.unread.size, 0, "our own message is not unread");
  const s2 = reduce(s1, {
    event: "message_state",
    msg_ref: sent.msg_ref!,
    to: bob,
    ts: 1000,
    state: "queued",
  });
  assert.equal(s2.conversations.get(bob)![0]!.state, "queued");
  assert.deepEqual(s2.changed, { conv: bob, id: 1, added: false });
  const s3 = reduce(s2, {
    event: "message_state",
    msg_ref: "other",
    to: bob,
    ts: 1,
    state: "delivered",
  });
  assert.equal(s3, s2, "an unknown reference changes nothing");
  const gap = reduce(s3, {
    ...incoming("a [… part 2 of 3 missing …] c"),
    missing: [2],
    verified: false,
  });
  assert.deepEqual(gap.conversations.get(bob)![1]!.missing, [2]);
});

Deno.test("a file: offered, progress by whole percents, ready with its bytes, or failed", () => {
  const offer = {
    event: "file_offer" as const,
    file_id: "f1",
    from: bob,
    label: "bob",
    name: "a.bin",
    size: 1000,
    verified: true,
    mode: "dm",
    ts: 5,
  };
  const s1 = reduce(initialState(), offer);
  const file = () => s.conversations.get(bob)![0]!.file!;
  let s = s1;
  assert.equal(file().state, "receiving");
  const progress = {
    event: "file_progress" as const,
    file_id: "f1",
    peer: bob,
    name: "a.bin",
    direction: "receive" as const,
    done: 5,
    total: 1000,
  };
  s = reduce(s1, progress);
  assert.equal(s, s1, "less than a percent: nothing to redraw");
  s = reduce(s, { ...progress, done: 500 });
  assert.equal(file().done, 500);
  const data = new Uint8Array([1, 2, 3]);
  s = reduce(s, {
    event: "file_received",
    file_id: "f1",
    from: bob,
    label: "bob",
    name: "a.bin",
    size: 1000,
    sha256: "ab",
    verified: true,
    data,
  });
  assert.equal(file().state, "ready");
  assert.equal(file().data, data);
  const failed = reduce(initialState(), {
    event: "file_failed",
    file_id: "f2",
    from: bob,
    name: "b",
    reason: "stalled",
    ts: 9,
  });
  assert.equal(failed.conversations.get(bob)![0]!.file!.reason, "stalled");
});

Deno.test("our own file send: sending, progress, sent to n recipients", () => {
  let s = reduce(initialState(), {
    event: "send_file",
    key: "out/1",
    conv: bob,
    from: me,
    name: "x",
    size: 10,
    ts: 1,
  });
  s = reduce(s, { event: "send_file_progress", key: "out/1", done: 5, total: 10 });
  assert.equal(s.conversations.get(bob)![0]!.file!.done, 5);
  s = reduce(s, { event: "send_file_done", key: "out/1", recipients: 2 });
  assert.deepEqual([
    s.conversations.get(bob)![0]!.file!.state,
    s.conversations.get(bob)![0]!.file!.reason,
  ], ["sent", "to 2 recipients"]);
});
