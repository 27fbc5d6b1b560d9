// Goal: kill -9 while DMs flow loses nothing that was acknowledged: the database is intact, the
// event log folds to every user whose USER_HELLO was ACKed (events commit before effects), the
// users projection agrees with the fold, and the restarted server enforces the same bindings.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fixtureKeyPem, RefClient, RefClientError } from "./independent/ref_client.ts";
import { makeDataDir, startServerProcess } from "./harness/processes.ts";
import { fold } from "../actors/router/router_state.ts";
import type { RouterEvent } from "../store/events.ts";

const KEYS = ["alice", "bob", "carol", "dave", "eve"];

Deno.test({
  name:
    "kill -9 during DM traffic: intact database, every ACKed user folds back, bindings enforced after restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server4");
    const server = await startServerProcess(dataDir);
    const users: RefClient[] = [];
    for (let i = 0; i < 10; i++) {
      users.push(
        await RefClient.connect({
          url: server.url,
          privateKeyPem: fixtureKeyPem(KEYS[i % KEYS.length]!),
          signFrames: false,
        }),
      );
    }
    const acked = users.map((u) => u.userId);
    // Keep registering newcomers and sending DMs until the kill.
    let running = true;
    let sent = 0;
    const traffic = (async () => {
      for (let n = 0; running && n < 10_000; n++) {
        const from = users[n % users.length]!;
        const to = users[(n + 1) % users.length]!;
        try {
          await from.sendDirect(to.userId, fixtureKeyPem(KEYS[(n + 1) % KEYS.length]!), `m${n}`);
          sent++;
        } catch { /* socket gone after the kill */ }
        if (n % 25 === 0) {
          RefClient.connect({
            url: server.url,
            privateKeyPem: fixtureKeyPem(KEYS[n % KEYS.length]!),
            signFrames: false,
          })
            .then((c) => (acked.push(c.userId), users.push(c)))
            .catch(() => {});
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    // Kill mid-traffic: once enough DMs flowed (a busy CI machine is slower), at most 10 s.
    const start = Date.now();
    while (sent < 40 && Date.now() - start < 10_000) await new Promise((r) => setTimeout(r, 20));
    await server.kill();
    running = false;
    await traffic;
    for (const u of users) u.terminate();
    assert.ok(sent > 20, `only ${sent} DMs were sent before the kill`);

    const db = new DatabaseSync(join(dataDir, "socp.sqlite"));
    assert.equal(
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    const events = db.prepare("SELECT type, at_ms, data FROM events ORDER BY seq").all()
      .map((r) => ({ type: r.type, at_ms: r.at_ms, ...JSON.parse(String(r.data)) }) as RouterEvent);
    const projection = new Map(
      db.prepare("SELECT user_id, pubkey FROM users").all().map((
        r,
      ) => [String(r.user_id), String(r.pubkey)]),
    );
    db.close();
    const state = fold(server.server_id, events);
    for (const id of acked) {
      assert.ok(state.users.has(id), `ACKed user ${id} is missing from the folded log`);
    }
    assert.deepEqual(new Map([...state.users].map(([id, r]) => [id, r.pubkey])), projection);

    const restarted = await startServerProcess(dataDir);
    try {
      assert.equal(restarted.server_id, server.server_id);
      const victim = acked[0]!; // registered with KEYS[0] (alice), so eve's key is a different one
      await assert.rejects(
        RefClient.connect({
          url: restarted.url,
          userId: victim,
          privateKeyPem: fixtureKeyPem("eve"),
        }),
        (e: unknown) => e instanceof RefClientError && e.code === "BAD_KEY",
      );
      const again = await RefClient.connect({
        url: restarted.url,
        userId: victim,
        privateKeyPem: fixtureKeyPem(KEYS[0]!),
      });
      await again.close();
    } finally {
      await restarted.stop();
    }
  },
});
