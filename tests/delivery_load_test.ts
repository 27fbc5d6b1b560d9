// Goal: a load test. 1 000 DMs to an offline user while the server is killed with -9 at
// seeded random moments and restarted: every message the server acknowledged ("queued") is
// delivered, none twice. The seed is printed; failures reproduce with SEED=<n>.
import assert from "node:assert/strict";
import { fixtureKeyPem, type Frame, RefClient } from "./independent/ref_client.ts";
import {
  freePort,
  makeDataDir,
  type ServerProcess,
  startServerProcess,
} from "./harness/processes.ts";

const MESSAGES = 1_000;
const KILLS = 3;

Deno.test({
  name:
    `kill -9 at random moments during ${MESSAGES} queued DMs: 0 lost acknowledged messages, 0 duplicates`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seed = Number(Deno.env.get("SEED") ?? Date.now() % 1_000_000);
    let x = seed;
    const rand = () => (x = (x * 48271) % 2147483647) / 2147483647;
    console.log(`SEED=${seed}`);
    const port = freePort();
    const dir = await makeDataDir("server2");
    let server: ServerProcess = await startServerProcess(dir, [], port);
    const bobId = crypto.randomUUID();
    const bobKey = fixtureKeyPem("bob");
    (await RefClient.connect({ url: server.url, userId: bobId, privateKeyPem: bobKey }))
      .terminate();

    const acked = new Set<string>();
    let sent = 0;
    let kills = 0;
    let restarting: Promise<void> | undefined;
    const killer = (async () => {
      while (kills < KILLS && sent < MESSAGES) {
        await new Promise((r) => setTimeout(r, 300 + rand() * 1500));
        if (sent >= MESSAGES) break;
        kills++;
        restarting = (async () => {
          await server.kill();
          server = await startServerProcess(dir, [], port);
        })();
        await restarting;
        restarting = undefined;
      }
    })();
    const started = Date.now();
    let alice: RefClient | undefined;
    while (sent < MESSAGES && Date.now() - started < 120_000) {
      try {
        if (restarting) await restarting;
        alice ??= await RefClient.connect({
          url: `ws://127.0.0.1:${port}`,
          privateKeyPem: fixtureKeyPem("alice"),
          signFrames: false,
        });
        const text = `m${sent}`;
        sent++;
        await alice.sendDirect(bobId, bobKey, text);
        const ack = await alice.next((f) => f.type === "ACK" || f.type === "ERROR", 3_000);
        if (ack.type === "ACK" && ack.payload?.status === "queued") acked.add(text);
      } catch {
        // The server died under us: that message is not acknowledged; reconnect and go on.
        alice?.terminate();
        alice = undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    alice?.terminate();
    await killer;
    if (restarting) await restarting;
    try {
      const bob = await RefClient.connect({
        url: `ws://127.0.0.1:${port}`,
        userId: bobId,
        privateKeyPem: bobKey,
      });
      const delivered: string[] = [];
      for (
        let f: Frame | undefined = await bob.expectNone("USER_DELIVER", 3_000);
        f;
        f = await bob.expectNone("USER_DELIVER", 1_500)
      ) {
        delivered.push(bob.openDeliver(f).plaintext);
      }
      bob.terminate();
      const unique = new Set(delivered);
      const lost = [...acked].filter((m) => !unique.has(m));
      const result = {
        seed,
        sent,
        acknowledged: acked.size,
        delivered: delivered.length,
        duplicates: delivered.length - unique.size,
        lost_acknowledged: lost.length,
        kills,
      };
      console.log(JSON.stringify(result));
      assert.ok(sent >= MESSAGES, `only ${sent} messages sent`);
      assert.equal(kills, KILLS, "the server was not killed as often as planned");
      assert.equal(result.duplicates, 0, `SEED=${seed}: duplicates delivered`);
      assert.deepEqual(lost, [], `SEED=${seed}: acknowledged messages lost`);
      assert.ok(acked.size >= MESSAGES * 0.9, `only ${acked.size} acknowledged`);
    } finally {
      await server.stop();
    }
  },
});
