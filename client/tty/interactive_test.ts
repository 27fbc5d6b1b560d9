// Goal: the interactive shell, driven through a scripted terminal and scripted sessions: typed
// commands run once connected, our DM shows at once with its state, a lost connection is shown
// and reopened after the backoff (the ready line not repeated), a command waiting for an answer
// when the socket closes gives up instead of blocking every later command, and Ctrl-D quits
// with the terminal restored.
import assert from "node:assert/strict";
import { ManualClock, SeededRandom } from "../../lib/world.ts";
import type { ChatSession, ClientEvent } from "../session.ts";
import { FakeTerminal } from "./_fake_terminal.ts";
import { runInteractive } from "./interactive.ts";

/** A session whose answers the test controls. */
class ScriptedSession {
  closed = false;
  lists = 0;
  constructor(readonly emit: (e: ClientEvent) => void, readonly answerList: boolean) {}
  label(id: string) {
    return id === "id-bob" ? "bob" : id;
  }
  list() {
    this.lists++;
    if (!this.answerList) return new Promise<never>(() => {});
    return Promise.resolve([{ user_id: "id-bob", label: "bob", server_id: "s" }]);
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
  const sessions: ScriptedSession[] = [];
  const ready: ClientEvent = {
    event: "ready",
    user_id: "id-me",
    server_id: "srv",
    server_pub: "k",
    hello: "ack",
    quiet_ms: 1000,
    content_sig: "A (auto)",
  };
  const run = runInteractive({
    open: (onEvent) => {
      // The first session never answers /list; the second one does.
      const s = new ScriptedSession(onEvent, sessions.length > 0);
      sessions.push(s);
      onEvent(ready);
      return Promise.resolve(s as unknown as ChatSession);
    },
    term,
    backoff: { baseMs: 100, maxMs: 100 },
    clock,
    random: new SeededRandom(3n),
  });
  term.type("/tell bob hi\r");
  await settle();
  assert.match(screenText(term), /\d\d:\d\d me → bob: hi {2}… sent/);
  sessions[0]!.emit({ event: "delivery", msg_ref: "me|id-bob|1", status: "delivered", detail: "" });
  assert.match(screenText(term), /me → bob: hi {2}✓ delivered/);
  term.type("/list\r");
  await settle();
  assert.equal(sessions[0]!.lists, 1);
  sessions[0]!.emit({ event: "closed", code: 1006, reason: "" });
  await settle();
  const shown = screenText(term);
  assert.match(shown, /! no answer to "\/list": the connection was lost/);
  assert.match(shown, /connection lost \(1006\); reconnecting in \d+ ms…/);
  assert.match(shown, /\(offline\) > $/);
  term.type("/list\r");
  await settle();
  assert.match(screenText(term), /Not connected: waiting to reconnect/);
  clock.advance(100);
  await settle();
  assert.equal(sessions.length, 2);
  assert.match(screenText(term), /\* reconnected after 1 attempt\n> $/);
  assert.equal(screenText(term).match(/\* connected/g)?.length, 1, "the ready line once");
  term.type("/list\r");
  await settle();
  assert.match(screenText(term), /online \(1\):\n {2}bob/);
  term.type("\x04");
  assert.equal(await run, 0);
  assert.equal(term.raw, false);
  assert.ok(sessions[1]!.closed, "the live session is closed on the way out");
});
