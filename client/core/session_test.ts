import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import { backoffDelay } from "./backoff.ts";
import type { ConnectionState, CoreEvent } from "./events.ts";
import type { ClientCrypto, Dial, Memory, PublicKeyLike } from "./ports.ts";
import { SessionCore } from "./session.ts";

/** A server that is down: every socket closes before it opens. */
function downServer(): { dial: Dial; dials: number } {
  const state = { dials: 0, dial: undefined as unknown as Dial };
  state.dial = (_url, handlers) => {
    state.dials++;
    queueMicrotask(() => handlers.close(1006, "connection refused"));
    return { send: () => {}, close: () => {}, open: false };
  };
  return state;
}

const noMemory: Memory = {
  knownKey: () => Promise.resolve(undefined),
  saveKnownKey: () => Promise.resolve(),
  serverPin: () => Promise.resolve(undefined),
  saveServerPin: () => Promise.resolve(),
  knownKeys: () => Promise.resolve([]),
};

/** The socket never opens, so no crypto is needed: any use fails the test. */
const noCrypto = new Proxy({}, {
  get: (_t, name) => {
    if (name === "spki") return "spki";
    throw new Error(`crypto ${String(name)} used while offline`);
  },
}) as ClientCrypto<PublicKeyLike>;

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a server that is down is retried on the backoff schedule, on the injected clock", async () => {
  const clock = new ManualClock();
  const server = downServer();
  const states: ConnectionState[] = [];
  const random = { uuid: () => "u", bytes: (n: number) => new Uint8Array(n), float: () => 0.5 };
  const core = new SessionCore({
    url: "ws://127.0.0.1:1/",
    user_id: "me",
    client: "test",
    crypto: noCrypto,
    dial: server.dial,
    memory: noMemory,
    clock,
    random,
    backoff: { baseMs: 1000, maxMs: 4000 },
    onEvent: (e: CoreEvent) => {
      if (e.event === "connection") states.push(e.connection);
    },
  });
  core.start();
  for (let failure = 1; failure <= 4; failure++) {
    await settle();
    const wait = backoffDelay(failure, 0.5, { baseMs: 1000, maxMs: 4000 });
    assert.deepEqual(states.at(-1), {
      state: "waiting",
      retry_at: clock.now() + wait,
      attempt: failure,
      reason: "connection lost (1006: connection refused)",
      code: 1006,
    });
    assert.equal(server.dials, failure);
    clock.advance(wait - 1);
    assert.equal(server.dials, failure, "not before the delay");
    clock.advance(1);
    assert.deepEqual(states.at(-1), { state: "connecting", attempt: failure + 1 });
  }
  await settle();
  core.stop("signed out");
  assert.deepEqual(states.at(-1), { state: "stopped", reason: "signed out" });
  const dials = server.dials;
  clock.advance(60_000);
  assert.equal(server.dials, dials, "no retry after stop");
  await assert.rejects(core.tell("bob", "hi"), /Not connected/);
});
