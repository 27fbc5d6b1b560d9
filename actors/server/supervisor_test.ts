// Goal: the supervisor reports each link's death to the Router once, as LinkClosed, and its
// shutdown waits for the links' last frames on the injected clock, bounded by
// LINK_CLOSE_LINGER_MS, after which a link still closing reports to nobody.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { RsaBackend } from "../../crypto/types.ts";
import { silentLogger } from "../../lib/log.ts";
import { ManualClock, SeededRandom } from "../../lib/world.ts";
import { LINK_CLOSE_LINGER_MS } from "../../protocol/limits.ts";
import type { Store } from "../../store/store.ts";
import { KeyCache } from "../links/key_cache.ts";
import { Metrics } from "../ops/metrics.ts";
import type { RouterInput } from "../router/router_messages.ts";
import { initialRouterState } from "../router/router_state.ts";
import type { WebSocket } from "./dial.ts";
import { Supervisor } from "./supervisor.ts";

/** An npm:ws socket that goes nowhere; `stuck` keeps bytes in its buffer forever. */
class FakeSocket {
  readonly sent: string[] = [];
  readonly closes: number[] = [];
  bufferedAmount = 0;
  #listeners = new Map<string, ((...args: unknown[]) => void)[]>();

  on(event: string, fn: (...args: unknown[]) => void): this {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), fn]);
    return this;
  }

  emit(event: string, ...args: unknown[]): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(...args);
  }

  send(text: string): void {
    this.sent.push(text);
  }

  close(code: number): void {
    this.closes.push(code);
  }

  ping(): void {}
}

function setUp() {
  const clock = new ManualClock();
  const posted: RouterInput[] = [];
  const state = initialRouterState("me");
  const backend = {} as RsaBackend;
  const supervisor = new Supervisor({
    metrics: new Metrics(clock),
    link: {
      backend,
      signer: { seal: (frame) => Promise.resolve(JSON.stringify({ ...frame, sig: "" })) },
      store: { journal: () => {}, lastSeq: 0 } as unknown as Store,
      clock,
      random: new SeededRandom(1n),
      log: silentLogger,
      state: () => state,
      post: (input) => (posted.push(input), true),
      outboxMax: 100,
      heartbeatIntervalMs: 15_000,
      linkTimeoutMs: 45_000,
      serverKeys: new Map(),
      userKeys: new KeyCache(backend, 1),
      advertise: { host: "127.0.0.1", port: 1 },
    },
  });
  return { clock, posted, supervisor };
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("a link's death reaches the Router once, as LinkClosed", async () => {
  const { clock, posted, supervisor } = setUp();
  const socket = new FakeSocket();
  supervisor.dialled(socket as unknown as WebSocket, "them");
  assert.deepEqual(posted.map((i) => i.type), ["ServerDialed"]);
  const [id] = [...supervisor.links.keys()];
  await settle();
  assert.match(socket.sent[0] ?? "", /SERVER_HELLO_LINK/);
  socket.emit("close", 1006, Buffer.from(""));
  socket.emit("close", 1006, Buffer.from(""));
  assert.deepEqual(posted.slice(1), [
    { type: "LinkClosed", link: id, reason: "socket closed (1006)", at_ms: clock.now() },
  ]);
  assert.equal(supervisor.links.size, 0);
});

Deno.test("shutdown waits on the injected clock for the last frames, at most the linger", async () => {
  const { clock, posted, supervisor } = setUp();
  const stuck = new FakeSocket();
  stuck.bufferedAmount = 1; // never drains
  supervisor.dialled(stuck as unknown as WebSocket, "them");
  let done = false;
  const closing = supervisor.shutdown().then(() => done = true);
  for (let t = 0; t < LINK_CLOSE_LINGER_MS - 100; t += 50) {
    clock.advance(50);
    await settle();
  }
  assert.equal(done, false, "still lingering before LINK_CLOSE_LINGER_MS");
  for (let t = 0; t < 300 && !done; t += 10) {
    clock.advance(10);
    await settle();
  }
  assert.equal(done, true, "done once the clock passed the linger (no real-time wait)");
  await closing;
  assert.equal(supervisor.links.size, 0);
  // The link that never drained was stopped, and told nobody: the Router is going.
  assert.deepEqual(posted.map((i) => i.type), ["ServerDialed"]);
});
