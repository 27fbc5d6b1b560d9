// Goal: the interactive shell, driven through a scripted terminal and a scripted session: typed
// commands run once connected, our DM shows with its state, the core's connection states are
// drawn (a countdown to the next attempt, an offline prompt, "reconnected", the ready line not
// repeated), a command waiting for an answer when the connection drops gives up instead of
// blocking every later command, and Ctrl-D quits with the terminal restored.
import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import type { ConnectionState } from "../core/events.ts";
import type { ChatSession, ClientEvent } from "../session.ts";
import { FakeTerminal } from "./_fake_terminal.ts";
import { runInteractive } from "./interactive.ts";

/** A session whose answers the test controls. */
class ScriptedSession {
  closed = false;
  lists = 0;
  constructor(readonly emit: (e: ClientEvent) => void, public answerList: boolean) {}
  readonly user_id = "id-me";
  label(id: string) {
    return id === "id-bob" ? "bob" : id;
  }
  users() {
    this.lists++;
    if (!this.answerList) return new Promise<never>(() => {});
    return Promise.resolve([{ user_id: "id-bob", label: "bob", online: true }]);
  }
  tell(_target: string, _text: string) {
    return Promise.resolve({ to: { user_id: "id-bob" }, refs: ["me|id-bob|1"] });
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};
const screenText = (term: FakeTerminal) =>
  // deno-lint-ignore no-control-regex
  term.output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r/g, "");

Deno.test("interactive: commands, own messages, a lost connection, a stuck command", async () => {
  const term = new FakeTerminal(120);
  const clock = new ManualClock();
  const online: ConnectionState = {
    state: "online",
    server_id: "srv",
    server_fingerprint: "fp",
    hello: "ack",
    content_sig: "A",
  };
  const mine = (state: "sent"): ClientEvent => ({
    event: "message",
    direction: "out",
    conv: "id-bob",
    from: "id-me",
    to: "id-bob",
    label: "me",
    text: "hi",
    ts: clock.now(),
    verified: true,
    parts: 1,
    missing: [],
    msg_ref: "me|id-bob|1",
    state,
  });
  const ready: ClientEvent = {
    event: "ready",
    user_id: "id-me",
    server_id: "srv",
    server_pub: "k",
    hello: "ack",
    quiet_ms: 1000,
    content_sig: "A (auto)",
  };
  let session: ScriptedSession | undefined;
  const run = runInteractive({
    open: (onEvent) => {
      // The session never answers /list until it reconnected.
      session = new ScriptedSession(onEvent, false);
      onEvent({ event: "connection", connection: online });
      onEvent(ready);
      return Promise.resolve(session as unknown as ChatSession);
    },
    term,
    clock,
  });
  const s = session!;
  term.type("/tell bob hi\r");
  await settle();
  s.emit(mine("sent"));
  assert.match(screenText(term), /\d\d:\d\d me → bob: hi {2}… sent/);
  s.emit({
    event: "message_state",
    msg_ref: "me|id-bob|1",
    to: "id-bob",
    ts: 1,
    state: "delivered",
  });
  assert.match(screenText(term), /me → bob: hi {2}✓ delivered/);
  term.type("/list\r");
  await settle();
  assert.equal(s.lists, 1);
  s.emit({
    event: "connection",
    connection: {
      state: "waiting",
      retry_at: clock.now() + 2_000,
      attempt: 1,
      reason: "connection lost (1006)",
    },
  });
  await settle();
  const shown = screenText(term);
  assert.match(shown, /! no answer to "\/list": the connection was lost/);
  assert.match(shown, /connection lost \(1006\); reconnecting in 2 s…/);
  assert.match(shown, /\(offline\) > $/);
  term.type("/list\r");
  await settle();
  assert.match(screenText(term), /Not connected: waiting to reconnect/);
  s.emit({ event: "connection", connection: { state: "connecting", attempt: 2 } });
  s.emit({ event: "connection", connection: online });
  s.emit(ready);
  s.answerList = true;
  await settle();
  assert.match(screenText(term), /\* reconnected after 1 attempt\n> $/);
  assert.equal(screenText(term).match(/\* connected/g)?.length, 1, "the ready line once");
  term.type("/list\r");
  await settle();
  assert.match(screenText(term), /online \(2\):\n {2}bob\n {2}id-me/);
  term.type("\x04");
  assert.equal(await run, 0);
  assert.equal(term.raw, false);
  assert.ok(s.closed, "the session is closed on the way out");
});
