// Goal: seals take turns across origins, so a quiet user's message is signed after
// at most one seal of each busy origin, never behind a flooder's whole backlog; an origin's
// backlog is visible and can be waited on; failures free their slot.
import assert from "node:assert/strict";
import { FairSigner } from "./fair_signer.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

function deliver(sender: string, n: number): UnsignedFrame {
  return {
    type: "USER_DELIVER",
    from: "server",
    to: "sink",
    ts: n,
    payload: { ciphertext: `c${n}`, sender, sender_pub: "k", content_sig: "s" },
  };
}

/** A signer whose seals finish only when the test says so, recording their order. */
function manualSeal() {
  const started: string[] = [];
  const pending: (() => void)[] = [];
  const seal = (frame: UnsignedFrame) => {
    started.push(`${FairSigner.origin(frame)}:${frame.ts}`);
    return new Promise<string>((resolve) => pending.push(() => resolve(JSON.stringify(frame))));
  };
  const finishOne = async () => {
    pending.shift()!();
    await tick();
  };
  return { started, seal, finishOne };
}

Deno.test("FairSigner: a quiet origin waits for a seal or two of the flooder, not its backlog", async () => {
  const m = manualSeal();
  const fair = new FairSigner({ seal: m.seal }, 1);
  const flood = Array.from({ length: 50 }, (_, i) => fair.sign(deliver("flooder", i)));
  const quiet = fair.sign(deliver("alice", 1000));
  assert.equal(fair.backlog("flooder"), 50);
  assert.equal(fair.backlog("alice"), 1);
  // The flooder's first seal was running and its second queued before alice's arrived.
  for (let i = 0; i < 3; i++) await m.finishOne();
  assert.deepEqual(m.started.slice(0, 4), ["flooder:0", "flooder:1", "alice:1000", "flooder:2"]);
  assert.match(await quiet, /c1000/);
  assert.equal(fair.backlog("alice"), 0);
  for (let i = 0; i < 48; i++) await m.finishOne();
  assert.equal((await Promise.all(flood)).length, 50);
});

Deno.test("FairSigner charges a delivery to its sender, anything else to its recipient", () => {
  assert.equal(FairSigner.origin(deliver("bob", 1)), "bob");
  assert.equal(
    FairSigner.origin({ type: "ERROR", from: "s", to: "mallory", ts: 1, payload: { code: "X" } }),
    "mallory",
  );
});

Deno.test("FairSigner: waiting for an origin's backlog, and failed seals free their slot", async () => {
  let calls = 0;
  const fair = new FairSigner({
    seal: (
      f,
    ) => (++calls % 2 === 0 ? Promise.reject(new Error("boom")) : Promise.resolve(String(f.ts))),
  }, 2);
  const results = await Promise.allSettled([1, 2, 3, 4].map((n) => fair.sign(deliver("u", n))));
  assert.deepEqual(results.map((r) => r.status), [
    "fulfilled",
    "rejected",
    "fulfilled",
    "rejected",
  ]);
  assert.equal(fair.backlog("u"), 0);
  assert.equal(fair.whenBelow("u", 1), undefined, "nothing queued: no wait");

  const m = manualSeal();
  const slow = new FairSigner({ seal: m.seal }, 1);
  for (let i = 0; i < 3; i++) void slow.sign(deliver("u", i));
  let below = false;
  void slow.whenBelow("u", 2)!.then(() => (below = true));
  await m.finishOne();
  assert.equal(below, false, "2 left");
  await m.finishOne();
  assert.equal(below, true, "1 left");
});

Deno.test("FairSigner: a seal whose signature is known takes no turn; onStart marks the start", async () => {
  const m = manualSeal();
  const known = new Set(["c7"]);
  const fair = new FairSigner({
    seal: m.seal,
    cachedSeal: (frame) =>
      known.has(String((frame.payload as { ciphertext: string }).ciphertext))
        ? Promise.resolve("cached")
        : undefined,
  }, 1);
  const starts: number[] = [];
  const busy = [1, 2, 3].map((n) => fair.sign(deliver("flooder", n), () => starts.push(n)));
  assert.deepEqual(starts, [1], "only the running seal has read its payload");
  // The flooder holds the only slot, and two more wait; the known one does not wait.
  assert.equal(await fair.sign(deliver("alice", 7), () => starts.push(7)), "cached");
  assert.deepEqual(starts, [1, 7]);
  assert.equal(fair.backlog("alice"), 0);
  for (let i = 0; i < 3; i++) await m.finishOne();
  assert.deepEqual(starts, [1, 7, 2, 3]);
  assert.equal((await Promise.all(busy)).length, 3);
});
