// Goal: reliable delivery over real processes: messages to offline users wait at
// their home server and arrive exactly once, in order, across kill -9 of either server, across
// a cut link, and for peers that never ACK; the sender hears "queued" then "delivered".
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { EvilServer } from "./harness/evil_server.ts";
import { fixtureKeyPem, type Frame, RefClient } from "./independent/ref_client.ts";
import {
  assertReplayMatches,
  eventually,
  fixturePubkey,
  freePort,
  health,
  makeDataDir,
  type ServerProcess,
  startClientProcess,
  startServerProcess,
  writeBootstrap,
} from "./harness/processes.ts";

const texts = (frames: Frame[], c: RefClient) => frames.map((f) => c.openDeliver(f).plaintext);
const status = (f: Frame) => String(f.payload?.status ?? "");

/** Collects every USER_DELIVER until `n` arrived (and a little longer, to catch duplicates). */
async function collect(c: RefClient, n: number, timeoutMs = 20_000): Promise<Frame[]> {
  const got: Frame[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n && Date.now() < deadline) {
    try {
      got.push(await c.next("USER_DELIVER", Math.max(1, deadline - Date.now())));
    } catch { /* timed out: checked below */ }
  }
  for (
    let extra = await c.expectNone("USER_DELIVER", 500);
    extra;
    extra = await c.expectNone("USER_DELIVER", 500)
  ) got.push(extra);
  return got;
}

Deno.test({
  name:
    "offline store-and-forward: queued ACK, delivery on hello exactly once, durable across kill -9, receipts",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const port = freePort();
    const dir = await makeDataDir("server1");
    let server = await startServerProcess(dir, [], port);
    const bobId = crypto.randomUUID();
    try {
      // Bob registers (his key is bound), then goes offline.
      const first = await RefClient.connect({
        url: server.url,
        userId: bobId,
        privateKeyPem: fixtureKeyPem("bob"),
      });
      await first.close();
      const alice = await RefClient.connect({
        url: server.url,
        privateKeyPem: fixtureKeyPem("alice"),
      });

      await t.step(
        "a DM to an offline registered user is queued, not USER_NOT_FOUND; a never-seen id still is",
        async () => {
          await alice.sendDirect(bobId, fixtureKeyPem("bob"), "while you were away (1)");
          const ack = await alice.next("ACK");
          assert.equal(status(ack), "queued");
          assert.match(
            String(ack.payload!.msg_ref),
            new RegExp(`^${alice.userId}\\|${bobId}\\|\\d+$`),
          );
          await alice.sendDirect(crypto.randomUUID(), fixtureKeyPem("carol"), "nobody");
          assert.equal((await alice.next("ERROR")).payload!.code, "USER_NOT_FOUND");
        },
      );

      await t.step(
        "the queue survives kill -9 and is delivered in order, exactly once",
        async () => {
          for (let i = 2; i <= 5; i++) {
            await alice.sendDirect(bobId, fixtureKeyPem("bob"), `while you were away (${i})`);
            assert.equal(status(await alice.next("ACK")), "queued");
          }
          alice.terminate();
          await server.kill();
          server = await startServerProcess(dir, [], port);
          const bob = await RefClient.connect({
            url: server.url,
            userId: bobId,
            privateKeyPem: fixtureKeyPem("bob"),
          });
          const got = await collect(bob, 5);
          assert.deepEqual(
            texts(got, bob),
            [1, 2, 3, 4, 5].map((i) => `while you were away (${i})`),
          );
          assert.ok(got.every((f) => bob.openDeliver(f).contentSigOk));
          await bob.close();
          // Delivered to a client without receipts: retired on send, so not delivered again.
          const again = await RefClient.connect({
            url: server.url,
            userId: bobId,
            privateKeyPem: fixtureKeyPem("bob"),
          });
          assert.equal(
            await again.expectNone("USER_DELIVER", 800),
            undefined,
            "a queued message was delivered twice",
          );
          await again.close();
        },
      );

      await t.step(
        "our clients confirm receipt; the sender sees queued, then delivered",
        async () => {
          const keystores = await Deno.makeTempDir();
          const carol = await startClientProcess(server.url, "carol", keystores);
          const dave = await startClientProcess(server.url, "dave", keystores);
          await carol.next(
            (e) => e.event === "online" && e.user_id === dave.user_id,
            15_000,
            "dave online",
          );
          assert.equal(await dave.quit(), 0);
          await carol.command(`/tell ${dave.user_id} are you there?`);
          const sent = await carol.next((e) => e.event === "sent", 15_000, "sent");
          const ref = (sent.msg_refs as string[])[0]!;
          await carol.next(
            (e) => e.event === "delivery" && e.msg_ref === ref && e.status === "queued",
            15_000,
            "queued",
          );
          const dave2 = await startClientProcess(server.url, "dave", keystores);
          const dm = await dave2.next((e) => e.event === "dm", 15_000, "queued dm");
          assert.deepEqual([dm.text, dm.verified], ["are you there?", true]);
          await carol.next(
            (e) => e.event === "delivery" && e.msg_ref === ref && e.status === "delivered",
            15_000,
            "delivered receipt",
          );
          await dave2.quit();
          await carol.quit();
        },
      );
    } finally {
      await server.stop();
    }
    await assertReplayMatches(dir);
  },
});

Deno.test({
  name:
    "per-peer outbox: messages for a server that is down are kept, survive restarts of either side, arrive once in order",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const [pa, pb] = [freePort(), freePort()];
    const [dirA, dirB] = [await makeDataDir("server1"), await makeDataDir("server2")];
    const intro = { host: "127.0.0.1", port: pa, pubkey: await fixturePubkey("server1") };
    const bootA = await writeBootstrap(dirA, []);
    const bootB = await writeBootstrap(dirB, [intro]);
    let a: ServerProcess = await startServerProcess(dirA, ["--bootstrap", bootA], pa);
    let b: ServerProcess = await startServerProcess(dirB, ["--bootstrap", bootB], pb);
    const bobId = crypto.randomUUID();
    try {
      await eventually("linked", async () => (await health(pa)).servers_linked === 1);
      const bob0 = await RefClient.connect({
        url: b.url,
        userId: bobId,
        privateKeyPem: fixtureKeyPem("bob"),
      });
      const alice = await RefClient.connect({ url: a.url, privateKeyPem: fixtureKeyPem("alice") });
      await eventually("alice sees bob", () => alice.directory.get(bobId)?.online === true);
      await alice.sendDirect(bobId, undefined, "m0");
      assert.equal(texts([await bob0.next("USER_DELIVER")], bob0)[0], "m0");

      await t.step("B is killed: A keeps what alice sends meanwhile and says so", async () => {
        await b.kill();
        bob0.terminate();
        for (let i = 1; i <= 4; i++) {
          await alice.sendDirect(bobId, fixtureKeyPem("bob"), `m${i}`);
          const ack = await alice.next((f) => f.type === "ACK" || f.type === "ERROR");
          assert.equal(status(ack), "queued", JSON.stringify(ack));
        }
      });

      await t.step(
        "A itself is killed and restarted mid-outbox; then B returns; bob gets all once, in order",
        async () => {
          alice.terminate();
          await a.kill();
          a = await startServerProcess(dirA, ["--bootstrap", bootA], pa);
          b = await startServerProcess(dirB, ["--bootstrap", bootB], pb);
          await eventually("relinked", async () => (await health(pa)).servers_linked === 1);
          const bob = await RefClient.connect({
            url: b.url,
            userId: bobId,
            privateKeyPem: fixtureKeyPem("bob"),
          });
          const got = await collect(bob, 4);
          assert.deepEqual(texts(got, bob), ["m1", "m2", "m3", "m4"]);
          bob.terminate();
        },
      );

      await t.step(
        "B acknowledged every frame, so A's outbox is empty (nothing re-sent later)",
        async () => {
          await eventually("outbox retired", () => {
            const db = new DatabaseSync(join(dirA, "socp.sqlite"), { readOnly: true });
            const rows = db.prepare(
              "SELECT type, data FROM events WHERE type IN ('MessageQueued', 'MessageDequeued')",
            ).all();
            db.close();
            const queued = rows.filter((r) => r.type === "MessageQueued").length;
            const retired = rows.filter((r) => r.type === "MessageDequeued").reduce(
              (n, r) => n + JSON.parse(String(r.data)).ids.length,
              0,
            );
            return queued >= 4 && queued === retired;
          });
        },
      );
    } finally {
      await a.stop();
      await b.stop();
    }
    await assertReplayMatches(dirA);
    await assertReplayMatches(dirB);
  },
});

Deno.test({
  name: "a peer that never ACKs is still served, and nothing piles up for it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const dir = await makeDataDir("server1");
    const server = await startServerProcess(
      dir,
      ["--bootstrap", await writeBootstrap(dir, [])],
      port,
    );
    const evil = new EvilServer(crypto.randomUUID(), "server5");
    try {
      await evil.link(server.url, server.server_id);
      await eventually("evil linked", async () => (await health(port)).servers_linked === 1);
      const carol = crypto.randomUUID();
      evil.send(
        evil.frame("USER_ADVERTISE", "*", {
          user_id: carol,
          server_id: evil.id,
          meta: {},
          pubkey: evil.pubkey,
        }),
      );
      const alice = await RefClient.connect({
        url: server.url,
        privateKeyPem: fixtureKeyPem("alice"),
      });
      await eventually("alice sees carol", () => alice.directory.get(carol)?.online === true);
      for (let i = 0; i < 5; i++) {
        await alice.sendDirect(carol, evil.pubkey, `to a plain peer ${i}`);
      }
      await eventually(
        "evil got 5",
        () => evil.received.filter((f) => f.type === "SERVER_DELIVER").length === 5,
      );
      const db = new DatabaseSync(join(dir, "socp.sqlite"), { readOnly: true });
      const queued = db.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'MessageQueued'")
        .get() as { n: number };
      db.close();
      assert.equal(queued.n, 0, "frames for a peer that never ACKs must not be kept");
      alice.terminate();
    } finally {
      evil.close();
      await server.stop();
    }
  },
});
