// Goal (performance, robustness): jobs handed to the signing threads through shared memory
// (sign_ring.ts, sign_thread.ts) come back as good signatures of the right message with the
// right key, beyond what the rings hold, with keys first used while jobs are in flight; a busy
// thread wakes the pool for a few signatures at a time, a lone one at once; a thread that fails
// hands what it had not signed to the wrapped backend; closing settles everything.
import assert from "node:assert/strict";
import { createOpenSslBackend } from "./openssl.ts";
import { createSignPool, type PooledBackend } from "./sign_pool.ts";
import { SignRing } from "./sign_ring.ts";
import { SigningThread, type ThreadJob } from "./sign_thread.ts";
import { sha256 } from "./hash.ts";
import { fixturePem } from "./_test_support.ts";
import type { PrivateKey } from "./types.ts";
import { SIGN_THREAD_SLOTS, SIGN_WAKE_AFTER } from "../protocol/limits.ts";

const openssl = createOpenSslBackend();
const ignore = openssl === undefined;
const text = (s: string) => new TextEncoder().encode(s);

/** `promise`, or a failure naming `what` when it has not settled after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function keys(...names: string[]): Promise<PrivateKey[]> {
  return Promise.all(names.map((n) => openssl!.importPrivate(fixturePem(n))));
}

/** Signs every message with its key, all at once; checks each signature with its own key. */
async function signAll(pool: PooledBackend, jobs: [PrivateKey, Uint8Array][]): Promise<void> {
  const sigs = await within(
    120_000,
    `${jobs.length} signatures`,
    Promise.all(jobs.map(([key, data]) => pool.sign(key, data))),
  );
  for (const [i, [key, data]] of jobs.entries()) {
    assert.ok(await openssl!.verify(key.publicKey, data, sigs[i]!), `signature ${i} verifies`);
  }
}

Deno.test("sign ring: job numbers keep their slot order across the 2^32 wrap", () => {
  let job = 2 ** 31 - 3;
  let slot = SignRing.slotOf(job);
  for (let i = 0; i < 10; i++) {
    job = (job + 1) | 0;
    assert.equal(SignRing.slotOf(job), (slot + 1) % SIGN_THREAD_SLOTS);
    slot = SignRing.slotOf(job);
  }
});

Deno.test("sign ring: a failure's reason, cut to the slot, and signatures copied out", () => {
  const ring = new SignRing();
  ring.failed(3, "é".repeat(400));
  const failure = ring.result(3);
  assert.ok(failure instanceof Error);
  assert.equal(failure.message, "é".repeat(256));
  ring.signature(5).fill(7);
  ring.signed(5);
  const sig = ring.result(5);
  assert.ok(sig instanceof Uint8Array && sig.length === 512 && sig.every((b) => b === 7));
  ring.signature(5).fill(0);
  assert.ok(sig.every((b) => b === 7), "the result is a copy, not a view on the ring");
});

Deno.test({
  name: "sign ring: 200 signatures at once over 2 threads, far beyond the rings, all verify",
  ignore,
  async fn() {
    const pool = (await createSignPool(openssl!, 2))!;
    try {
      const [alice] = await keys("alice");
      const jobs = Array.from({ length: 200 }, (_, i): [PrivateKey, Uint8Array] => [
        alice!,
        text(`message ${i}`),
      ]);
      assert.ok(jobs.length > 2 * SIGN_THREAD_SLOTS);
      await signAll(pool, jobs);
    } finally {
      pool.close();
    }
  },
});

Deno.test({
  name: "sign ring: keys interleaved, new ones first used while the threads are busy",
  ignore,
  async fn() {
    const pool = (await createSignPool(openssl!, 2))!;
    try {
      const [alice, bob, carol] = await keys("alice", "bob", "carol");
      const early = Array.from({ length: 24 }, (_, i) => pool.sign(alice!, text(`a${i}`)));
      // The threads are now signing alice's jobs back to back, bob's and carol's keys unsent.
      await early[0];
      const order = [bob!, alice!, carol!];
      const jobs = Array.from({ length: 30 }, (_, i): [PrivateKey, Uint8Array] => [
        order[i % 3]!,
        text(`m${i}`),
      ]);
      await signAll(pool, jobs);
      await Promise.all(early);
      // Each signature is the right key's: bob's does not verify as alice's.
      const bobs = await pool.sign(bob!, text("x"));
      assert.ok(!(await openssl!.verify(alice!.publicKey, text("x"), bobs)));
    } finally {
      pool.close();
    }
  },
});

Deno.test({
  name: "sign ring: a thread that fails hands its jobs to the wrapped backend; none is lost",
  ignore,
  async fn() {
    const reasons: string[] = [];
    let settled = 0;
    let settledAtFailure = -1;
    const onUnavailable = (why: string) => {
      reasons.push(why);
      settledAtFailure = settled;
    };
    const crashing = new URL("./_sign_worker_crash.ts", import.meta.url);
    const pool = (await createSignPool(openssl!, 1, onUnavailable, crashing))!;
    try {
      const [alice, bob] = await keys("alice", "bob");
      const sign = (key: PrivateKey, data: Uint8Array) =>
        pool.sign(key, data).finally(() => settled++);
      const early = Array.from({ length: 12 }, (_, i) => sign(alice!, text(`a${i}`)));
      await early[0];
      // Bob's key (the second) makes the thread fail once it reaches bob's job, behind the
      // early jobs and ahead of the late ones.
      const bobs = sign(bob!, text("b"));
      await new Promise((resolve) => setTimeout(resolve, 0));
      const late = Array.from({ length: 12 }, (_, i) => sign(alice!, text(`late${i}`)));
      const sigs = await within(120_000, "signatures", Promise.all([...early, bobs, ...late]));
      for (const [i, sig] of sigs.entries()) {
        const [key, data] = i < 12
          ? [alice!, text(`a${i}`)]
          : i === 12
          ? [bob!, text("b")]
          : [alice!, text(`late${i - 13}`)];
        assert.ok(await openssl!.verify(key.publicKey, data, sig), `signature ${i} verifies`);
      }
      assert.equal(reasons.length, 1);
      assert.match(reasons[0]!, /^signing thread failed: .*crashed \(test\)/);
      assert.ok(settledAtFailure <= 12, "bob's and the late jobs were pending when it failed");
      await signAll(pool, [[bob!, text("after")]]);
    } finally {
      pool.close();
    }
  },
});

Deno.test({
  name: "sign ring: closing settles every job, in the ring or waiting for it",
  ignore,
  async fn() {
    const reasons: string[] = [];
    const pool = (await createSignPool(openssl!, 1, (why) => reasons.push(why)))!;
    const [alice] = await keys("alice");
    const pending = Array.from({ length: 30 }, (_, i) => pool.sign(alice!, text(`c${i}`)));
    await pending[0];
    pool.close();
    const settled = await within(10_000, "closing", Promise.allSettled(pending));
    const rejected = settled.filter((s) => s.status === "rejected");
    assert.ok(rejected.length >= 30 - 1 - SIGN_THREAD_SLOTS, "the waiting jobs failed");
    for (const s of rejected) assert.match(String(s.reason), /signing pool closed/);
    for (const [i, s] of settled.entries()) {
      if (s.status === "fulfilled") {
        assert.ok(await openssl!.verify(alice!.publicKey, text(`c${i}`), s.value));
      }
    }
    await signAll(pool, [[alice!, text("after close")]]);
    assert.deepEqual(reasons, [], "closing is not a failure");
  },
});

Deno.test({
  name: "sign ring: a key the threads cannot use fails its own jobs, not the pool",
  ignore,
  async fn() {
    const reasons: string[] = [];
    // A backend whose exported keys the threads refuse (not PKCS#8).
    const base = { ...openssl!, exportPrivate: () => Promise.resolve(new Uint8Array([48, 0])) };
    const pool = (await createSignPool(base, 1, (why) => reasons.push(why)))!;
    try {
      const [alice] = await keys("alice");
      await assert.rejects(pool.sign(alice!, text("x")), /Cannot import private key/);
      assert.deepEqual(reasons, []);
    } finally {
      pool.close();
    }
  },
});

Deno.test({
  name: "sign ring: threads that cannot load their libcrypto leave no pool, and say why",
  ignore,
  async fn() {
    const reasons: string[] = [];
    const path = "/nonexistent/libcrypto.so.3";
    const base = { ...openssl!, library: { ...openssl!.library!, path } };
    assert.equal(await createSignPool(base, 2, (why) => reasons.push(why)), undefined);
    assert.equal(reasons.length, 1);
    assert.match(reasons[0]!, /nonexistent/);
  },
});

Deno.test({
  name:
    "sign ring: a busy thread wakes the pool for a few signatures at a time, a lone one at once",
  ignore,
  async fn() {
    const thread = new SigningThread<ThreadJob>(
      openssl!.library?.path,
      new URL("./sign_worker.ts", import.meta.url),
    );
    try {
      assert.equal(await thread.ready, undefined);
      const [alice] = await keys("alice");
      thread.addKey(1, await openssl!.exportPrivate(alice!));
      const sign = (data: Uint8Array) =>
        new Promise<Uint8Array>((resolve, reject) =>
          thread.submit({ keyId: 1, digest: sha256(data), resolve, reject })
        );
      const lone = text("lone");
      assert.ok(await openssl!.verify(alice!.publicKey, lone, await sign(lone)));
      assert.equal(thread.wakeups, 1, "a lone signature wakes the pool once, when it is done");

      const burst = Array.from({ length: SIGN_THREAD_SLOTS }, (_, i) => text(`burst ${i}`));
      const sigs = await within(60_000, "burst", Promise.all(burst.map(sign)));
      for (const [i, sig] of sigs.entries()) {
        assert.ok(await openssl!.verify(alice!.publicKey, burst[i]!, sig), `signature ${i}`);
      }
      const wakes = thread.wakeups - 1;
      assert.ok(wakes >= 1, "the pool was woken for the burst");
      // One wake-up per signature would be SIGN_THREAD_SLOTS; taken a few at a time, at most
      // one per SIGN_WAKE_AFTER, plus the last two.
      assert.ok(
        wakes <= SIGN_THREAD_SLOTS / SIGN_WAKE_AFTER + 2,
        `${wakes} wake-ups for ${SIGN_THREAD_SLOTS} signatures`,
      );
    } finally {
      thread.stop();
    }
  },
});
