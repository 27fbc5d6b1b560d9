// Goal: federation over real server processes on loopback: five servers join through
// an introducer and link into a full mesh; users on different servers see each other and DM
// both ways exactly once; leaving, crashing, freezing (heartbeat timeout) and restarting
// servers are reflected everywhere; gossip per advertise is bounded.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fixtureKeyPem, RefClient } from "./independent/ref_client.ts";
import {
  assertReplayMatches,
  eventually,
  fixturePubkey,
  freePort,
  health,
  makeDataDir,
  type ServerProcess,
  startServerProcess,
  writeBootstrap,
} from "./harness/processes.ts";

const N = 5;
const KEYS = ["alice", "bob", "carol", "dave", "eve"];

Deno.test({
  name: "five-server mesh: join, presence, cross-server DMs, leave, crash, timeout, restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const ports = Array.from({ length: N }, () => freePort());
    const dirs: string[] = [];
    const boots: string[] = [];
    const introducer = {
      host: "127.0.0.1",
      port: ports[0]!,
      pubkey: await fixturePubkey("server1"),
    };
    for (let i = 0; i < N; i++) {
      dirs.push(await makeDataDir(`server${i + 1}`));
      boots.push(await writeBootstrap(dirs[i]!, i === 0 ? [] : [introducer]));
    }
    const servers: ServerProcess[] = [];
    const start = (i: number) =>
      startServerProcess(dirs[i]!, ["--bootstrap", boots[i]!], ports[i]!);
    const users: RefClient[] = [];
    const connect = (i: number) =>
      RefClient.connect({
        url: `ws://127.0.0.1:${ports[i]}`,
        privateKeyPem: fixtureKeyPem(KEYS[i]!),
        displayName: `u${i}`,
        userId: userIds[i],
      });
    const userIds = Array.from({ length: N }, () => crypto.randomUUID());
    const listOn = async (i: number) => {
      const probe = await RefClient.connect({
        url: `ws://127.0.0.1:${ports[i]}`,
        privateKeyPem: fixtureKeyPem("eve"),
      });
      try {
        return (await probe.list()).filter((u) => u !== probe.userId);
      } finally {
        probe.terminate();
      }
    };
    try {
      await t.step("servers join through the introducer and form a full mesh", async () => {
        servers.push(await start(0));
        for (let i = 1; i < N; i++) servers.push(await start(i));
        await eventually("every server linked to the 4 others", async () => {
          for (const s of servers) {
            if ((await health(s.port)).servers_linked !== N - 1) return false;
          }
          return true;
        });
      });

      await t.step("users on every server see every other user", async () => {
        for (let i = 0; i < N; i++) users.push(await connect(i));
        for (let i = 0; i < N; i++) {
          await eventually(
            `server ${i} lists all users`,
            async () => (await listOn(i)).length === N,
          );
          assert.deepEqual(await listOn(i), [...userIds].sort());
        }
        // Clients learn remote users' keys from the relayed advertises.
        await eventually(
          "u0 knows u4's key",
          () => users[0]!.directory.get(userIds[4]!)?.pubkey !== undefined,
        );
      });

      await t.step("DMs cross servers both ways, verified, exactly once", async () => {
        const pairs: [number, number][] = [[0, 3], [3, 0], [1, 4], [4, 2], [2, 1]];
        for (const [a, b] of pairs) {
          await eventually(
            `u${a} knows u${b}`,
            () => users[a]!.directory.get(userIds[b]!)?.pubkey !== undefined,
          );
          await users[a]!.sendDirect(userIds[b]!, undefined, `hello u${b} from u${a} ✓`);
        }
        for (const [a, b] of pairs) {
          const got = users[b]!.openDeliver(
            await users[b]!.next((f) =>
              f.type === "USER_DELIVER" && f.payload?.sender === userIds[a]
            ),
          );
          assert.equal(got.plaintext, `hello u${b} from u${a} ✓`);
          assert.equal(got.contentSigOk, true);
        }
        for (const u of users) {
          assert.equal(
            await u.expectNone("USER_DELIVER", 300),
            undefined,
            "a DM was delivered twice",
          );
        }
      });

      await t.step("gossip per advertise is bounded and accepted once per server", () => {
        let frames = 0;
        for (let i = 0; i < N; i++) {
          const db = new DatabaseSync(join(dirs[i]!, "socp.sqlite"), { readOnly: true });
          const rows = db.prepare(
            "SELECT verdict FROM journal WHERE raw LIKE ? AND raw LIKE '%USER_ADVERTISE%'",
          ).all(`%"user_id":"${userIds[0]}"%`);
          db.close();
          frames += rows.length;
          if (i !== 0) {
            assert.equal(
              rows.filter((r) => r.verdict === "accepted").length,
              1,
              `server ${i} accepted u0's advertise more than once`,
            );
          }
        }
        assert.ok(
          frames <= (N - 1) ** 2,
          `${frames} advertise frames for one user: gossip is not bounded`,
        );
      });

      await t.step("a user leaving disappears everywhere", async () => {
        await users[1]!.close();
        for (let i = 0; i < N; i++) {
          if (i !== 1) {
            await eventually(
              `u1 gone from server ${i}`,
              async () => !(await listOn(i)).includes(userIds[1]!),
            );
          }
        }
      });

      await t.step(
        "a frozen server times out (heartbeat) and its users vanish; they return when it thaws",
        async () => {
          servers[3]!.signal("SIGSTOP");
          try {
            for (const i of [0, 2, 4]) {
              await eventually(
                `u3 gone from server ${i}`,
                async () => !(await listOn(i)).includes(userIds[3]!),
                10_000,
              );
            }
          } finally {
            servers[3]!.signal("SIGCONT");
          }
          for (const i of [0, 2, 4]) {
            await eventually(
              `u3 back on server ${i}`,
              async () => (await listOn(i)).includes(userIds[3]!),
              10_000,
            );
          }
        },
      );

      await t.step("a killed server's users vanish, and come back after it restarts", async () => {
        const before = servers[4]!.server_id;
        await servers[4]!.kill();
        users[4]!.terminate();
        for (const i of [0, 2, 3]) {
          await eventually(
            `u4 gone from server ${i}`,
            async () => !(await listOn(i)).includes(userIds[4]!),
          );
        }
        servers[4] = await start(4);
        assert.equal(servers[4]!.server_id, before, "a restarted server keeps its id");
        await eventually(
          "restarted server relinked to all",
          async () => (await health(ports[4]!)).servers_linked === N - 1,
        );
        users[4] = await connect(4);
        for (const i of [0, 2, 3]) {
          await eventually(
            `u4 back on server ${i}`,
            async () => (await listOn(i)).includes(userIds[4]!),
          );
        }
        await eventually(
          "u0 knows u4 again",
          () => users[0]!.directory.get(userIds[4]!)?.online === true,
        );
        await users[0]!.sendDirect(userIds[4]!, undefined, "welcome back");
        const got = users[4]!.openDeliver(await users[4]!.next("USER_DELIVER"));
        assert.equal(got.plaintext, "welcome back");
      });
    } finally {
      for (const u of users) u.terminate();
      for (const s of servers) await s.stop().catch(() => {});
    }
    for (const dir of dirs) await assertReplayMatches(dir);
  },
});
