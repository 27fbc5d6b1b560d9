// Goal: the backoff schedule doubles, caps and jitters within [0.5, 1) of the step; the
// connection survives a lost session by opening a new one after that delay, resets after a
// success, ignores closes of superseded sessions, and stops retrying once stopped.
import assert from "node:assert/strict";
import { ManualClock, SeededRandom } from "../../lib/world.ts";
import { parseBackoff, reconnectDelayMs } from "./backoff.ts";
import { Connection, type ConnectionState } from "./reconnect.ts";

Deno.test("backoff: doubling, capped, jittered", () => {
  const policy = { baseMs: 1000, maxMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 40].map((n) => reconnectDelayMs(n, policy, 0)),
    [500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000],
  );
  assert.equal(reconnectDelayMs(1, policy, 0.999_999), 1000);
  assert.equal(reconnectDelayMs(3, policy, 0.5), 3000);
  assert.equal(reconnectDelayMs(0, policy, 1), 1000, "clamped to the first attempt and to 1");
  assert.deepEqual(parseBackoff("100,400"), { baseMs: 100, maxMs: 400 });
  assert.deepEqual(parseBackoff("2000"), { baseMs: 2000, maxMs: 30_000 });
  assert.equal(parseBackoff("400,100"), undefined);
  assert.equal(parseBackoff("0"), undefined);
  assert.equal(parseBackoff("fast"), undefined);
});

/** A session whose socket the test closes. */
class FakeSession {
  closed = false;
  constructor(readonly n: number, readonly lose: (reason: string) => void) {}
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

Deno.test("connection: lost, waits with backoff, reopens; stop ends it", async () => {
  const clock = new ManualClock();
  const states: ConnectionState[] = [];
  const sessions: FakeSession[] = [];
  let refuse = 0;
  const connection = new Connection<FakeSession>({
    open: (lost) => {
      if (refuse > 0) {
        refuse--;
        return Promise.reject(new Error("refused"));
      }
      const s = new FakeSession(sessions.length, lost);
      sessions.push(s);
      return Promise.resolve(s);
    },
    policy: { baseMs: 100, maxMs: 1000 },
    clock,
    random: new SeededRandom(7n),
    onState: (s) => states.push(s),
  });
  const first = await connection.start();
  assert.equal(connection.session, first);
  refuse = 2;
  first.lose("connection lost (1001)");
  assert.equal(connection.session, undefined);
  const waiting = states.at(-1)!;
  assert.equal(waiting.state, "waiting");
  if (waiting.state !== "waiting") return;
  assert.ok(waiting.delayMs >= 50 && waiting.delayMs < 100, `${waiting.delayMs}`);
  clock.advance(waiting.delayMs - 1);
  assert.equal(sessions.length, 1, "nothing before the delay");
  for (let i = 0; i < 3; i++) {
    clock.advance(1_000);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(sessions.length, 2, "two refusals, then a new session");
  assert.deepEqual(states.map((s) => [s.state, s.attempt]), [
    ["connected", 0],
    ["waiting", 1],
    ["waiting", 2],
    ["waiting", 3],
    ["connected", 3],
  ]);
  first.lose("late close of the old session");
  assert.equal(connection.session, sessions[1], "a superseded session's close is ignored");
  sessions[1]!.lose("lost again");
  assert.deepEqual(states.at(-1)!.attempt, 1, "the count restarted after the success");
  await connection.stop();
  clock.advance(10_000);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(sessions.length, 2, "no retry after stop");
});

Deno.test("connection: a close while opening fails that attempt only", async () => {
  const clock = new ManualClock();
  const states: ConnectionState[] = [];
  let opens = 0;
  const connection = new Connection<FakeSession>({
    open: (lost) => {
      opens++;
      if (opens === 2) {
        lost("closed during the hello");
        return Promise.reject(new Error("Connection closed (1006)"));
      }
      return Promise.resolve(new FakeSession(opens, lost));
    },
    policy: { baseMs: 100, maxMs: 100 },
    clock,
    random: new SeededRandom(1n),
    onState: (s) => states.push(s),
  });
  const first = await connection.start();
  first.lose("gone");
  clock.advance(100);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(states.filter((s) => s.state === "waiting").length, 2, "one retry per failure");
  clock.advance(100);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(opens, 3);
  assert.equal(connection.session?.n, 3);
  await connection.stop();
});
