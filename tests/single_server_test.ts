// Goal: one server, over real sockets, real processes, real RSA-4096 and real SQLite:
// two terminal clients chat through one server; presence, list and errors are right; the server
// keeps identity and key bindings across a restart.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fixtureKeyPem, RefClient, RefClientError } from "./independent/ref_client.ts";
import {
  assertReplayMatches,
  makeDataDir,
  startClientProcess,
  startServerProcess,
} from "./harness/processes.ts";

Deno.test({
  name:
    "one server: two client processes exchange verified DMs, list, NAME_IN_USE, USER_NOT_FOUND, restart keeps bindings",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server1");
    const clients = await Deno.makeTempDir();
    let server = await startServerProcess(dataDir);
    const alice = await startClientProcess(server.url, "alice", clients);
    const bob = await startClientProcess(server.url, "bob", clients);
    try {
      await alice.next(
        (e) => e.event === "online" && e.user_id === bob.user_id,
        15_000,
        "bob online",
      );

      await alice.command("/tell bob hello bob, ünïcode 😀");
      const toBob = await bob.next((e) => e.event === "dm", 15_000, "dm");
      assert.deepEqual([toBob.from, toBob.label, toBob.text, toBob.verified], [
        alice.user_id,
        "alice",
        "hello bob, ünïcode 😀",
        true,
      ]);

      // Longer than one OAEP block: several DMs, in order, nothing lost.
      const long = Array.from({ length: 120 }, (_, i) => `w${i}`).join(" ") + " " + "é".repeat(300);
      await bob.command(`/tell ${alice.user_id} ${long}`);
      const sent = await bob.next((e) => e.event === "sent", 15_000, "sent");
      assert.ok(Number(sent.parts) >= 2);
      const parts: string[] = [];
      for (let i = 0; i < Number(sent.parts); i++) {
        const dm = await alice.next(
          (e) => e.event === "dm" && !parts.includes(e.text as string) && e.from === bob.user_id,
          15_000,
          `part ${i}`,
        );
        assert.equal(dm.verified, true);
        parts.push(dm.text as string);
      }
      assert.equal(parts.join(""), long);

      await alice.command("/list");
      const list = await alice.next((e) => e.event === "list", 15_000, "list");
      const ids = (list.users as { user_id: string; label: string }[]).map((u) => u.user_id);
      assert.deepEqual(ids, [alice.user_id, bob.user_id].sort());
      assert.deepEqual((list.users as { label: string }[]).map((u) => u.label).sort(), [
        "alice",
        "bob",
      ]);

      // A third connection with Alice's id.
      await assert.rejects(
        RefClient.connect({
          url: server.url,
          userId: alice.user_id,
          privateKeyPem: fixtureKeyPem("alice"),
        }),
        (e: unknown) => e instanceof RefClientError && e.code === "NAME_IN_USE",
      );

      await alice.command("/tell 00000000-0000-4000-8000-000000000000 anyone?");
      const unknown = await alice.next((e) => e.event === "error", 15_000, "error");
      assert.equal(unknown.code, "USER_NOT_FOUND", "the server's directory knows no such id");

      const ref = await RefClient.connect({
        url: server.url,
        privateKeyPem: fixtureKeyPem("carol"),
      });
      ref.send(ref.buildDirect(crypto.randomUUID(), fixtureKeyPem("dave"), "to nobody"));
      const err = await ref.next("ERROR");
      assert.equal(err.payload?.code, "USER_NOT_FOUND");
      ref.assertServerSigsOk();
      await ref.close();

      assert.equal(await alice.quit(), 0);
      await bob.next(
        (e) => e.event === "offline" && e.user_id === alice.user_id,
        15_000,
        "alice offline",
      );
      assert.equal(await bob.quit(), 0);
    } finally {
      await alice.kill();
      await bob.kill();
      await server.stop();
    }

    // Restart on the same data dir: same identity, bindings survive.
    const before = server.server_id;
    server = await startServerProcess(dataDir);
    try {
      assert.equal(server.server_id, before);
      const folded = server.logs.flatMap((l) =>
        l.includes('"event log folded"') ? [JSON.parse(l)] : []
      );
      assert.ok(folded.length === 1 && folded[0].events > 0, "the restart says what it folded");
      const db = new DatabaseSync(join(dataDir, "socp.sqlite"), { readOnly: true });
      const users = db.prepare("SELECT user_id FROM users ORDER BY user_id").all().map((r) =>
        r.user_id
      );
      db.close();
      assert.ok(users.includes(alice.user_id) && users.includes(bob.user_id));
      await assert.rejects(
        RefClient.connect({
          url: server.url,
          userId: alice.user_id,
          privateKeyPem: fixtureKeyPem("eve"),
        }),
        (e: unknown) => e instanceof RefClientError && e.code === "BAD_KEY",
      );
      // With her own key (and, since her client registered a password login, a nonce signed
      // with it) Alice gets back in.
      const back = await startClientProcess(server.url, "alice", clients);
      assert.equal(back.user_id, alice.user_id);
      assert.equal(await back.quit(), 0);
    } finally {
      await server.stop();
    }
    // The journal re-runs through parse / verify / decide to exactly the recorded events.
    await assertReplayMatches(dataDir);
  },
});
