// Goal: a closing link can wait for the Router's answers to what it handed over: `answered`
// resolves only once every input posted before it is decided, committed and its effects
// performed, and at once when nothing is pending.
import assert from "node:assert/strict";
import type { FrameOf } from "../../protocol/mod.ts";
import { silentLogger } from "../../lib/log.ts";
import { Store } from "../../store/store.ts";
import { type LinkHandle, Router } from "./router.ts";
import { DEFAULT_ROUTER_CONFIG } from "./router_config.ts";
import type { RouterInput, UnsignedFrame } from "./router_messages.ts";

function hello(user: string, link: string): RouterInput {
  const frame: FrameOf<"USER_HELLO"> = {
    type: "USER_HELLO",
    from: user,
    to: "server",
    ts: 10,
    payload: { pubkey: `K-${user}` },
    sig: "",
  };
  return { type: "UserHello", link, frame, pubkey: `K-${user}`, raw: "{}", at_ms: 100 };
}

Deno.test("Router.answered() waits for the effects of every input posted before it", async () => {
  const sent: string[] = [];
  const link: LinkHandle = {
    send: (frame: UnsignedFrame) => void sent.push(`${frame.type} ${frame.to}`),
    relay: () => {},
    close: () => {},
  };
  const store = Store.open(":memory:");
  const router = new Router("server-1", {
    store,
    links: new Map([["conn:1", link], ["conn:2", link]]),
    log: silentLogger,
    config: DEFAULT_ROUTER_CONFIG,
    dial: () => {},
    rekey: () => {},
  });
  await router.fold();
  router.start({
    type: "ServerStarted",
    server_id: "server-1",
    server_pub: "SP",
    at_ms: 1,
    build: "t",
  });
  await router.answered();

  assert.ok(router.post(hello("alice", "conn:1")));
  const first = router.answered();
  assert.ok(router.post(hello("bob", "conn:2")));
  const second = router.answered();
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(firstDone, false, "effects wait for their commit");
  assert.equal(sent.length, 0);
  await first;
  assert.ok(sent.includes("ACK alice"), `alice's hello was answered: ${sent}`);
  await second;
  assert.ok(sent.includes("ACK bob"), `bob's hello was answered: ${sent}`);
  await router.answered();
  store.close();
});
