// Goal: the public channel over three real servers: /all reaches every other user on every
// server exactly once, decrypted and verified; a later joiner gets later messages; key shares
// reach members; the §15.1 group tables hold the public channel and rebuild from the log.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Store } from "../store/store.ts";
import {
  type ClientProcess,
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

Deno.test({
  name:
    "public channel across three servers: exactly-once verified delivery, late joiner, key shares, tables",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const ports = [freePort(), freePort(), freePort()];
    const dirs = [
      await makeDataDir("server1"),
      await makeDataDir("server2"),
      await makeDataDir("server3"),
    ];
    const intro = { host: "127.0.0.1", port: ports[0]!, pubkey: await fixturePubkey("server1") };
    const servers: ServerProcess[] = [];
    const clients: ClientProcess[] = [];
    const keystores = await Deno.makeTempDir();
    try {
      for (let i = 0; i < 3; i++) {
        servers.push(
          await startServerProcess(dirs[i]!, [
            "--bootstrap",
            await writeBootstrap(dirs[i]!, i === 0 ? [] : [intro]),
          ], ports[i]!),
        );
      }
      await eventually(
        "mesh",
        async () =>
          (await Promise.all(servers.map((s) => health(s.port)))).every((h) =>
            h.servers_linked === 2
          ),
      );
      const [alice, bob, carol, dave] = await Promise.all([
        startClientProcess(servers[0]!.url, "alice", keystores),
        startClientProcess(servers[1]!.url, "bob", keystores),
        startClientProcess(servers[2]!.url, "carol", keystores),
        startClientProcess(servers[0]!.url, "dave", keystores),
      ]);
      clients.push(alice!, bob!, carol!, dave!);
      const everyone = [alice!, bob!, carol!, dave!];
      for (const c of everyone) {
        await c.next(
          (e) =>
            e.event === "online" &&
            everyone.filter((o) => o !== c).every((o) =>
              c.events.some((x) => x.event === "online" && x.user_id === o.user_id)
            ),
          15_000,
          "everyone online",
        );
      }

      await t.step(
        "/all reaches every other user on every server exactly once, verified",
        async () => {
          await alice!.command("/all hello everyone ✓");
          for (const c of [bob!, carol!, dave!]) {
            const got = await c.next((e) => e.event === "public", 15_000, "public message");
            assert.deepEqual([got.from, got.text, got.verified], [
              alice!.user_id,
              "hello everyone ✓",
              true,
            ]);
          }
          await new Promise((r) => setTimeout(r, 500));
          for (const c of everyone) {
            assert.equal(
              c.events.filter((e) => e.event === "public").length,
              c === alice ? 0 : 1,
              "delivered more than once",
            );
          }
        },
      );

      await t.step("every member received a verified public channel key share", async () => {
        for (const c of everyone) {
          await c.next(
            (e) => e.event === "channel_key" && e.verified === true,
            15_000,
            "channel key",
          );
        }
      });

      await t.step("a user joining later receives later messages", async () => {
        const eve = await startClientProcess(servers[1]!.url, "eve", keystores);
        clients.push(eve);
        await carol!.next(
          (e) => e.event === "online" && e.user_id === eve.user_id,
          15_000,
          "eve online",
        );
        await carol!.command("/all second message");
        const got = await eve.next((e) => e.event === "public", 15_000, "eve public");
        assert.deepEqual([got.from, got.text, got.verified], [
          carol!.user_id,
          "second message",
          true,
        ]);
        assert.equal(
          eve.events.filter((e) => e.event === "public").length,
          1,
          "eve must not see the earlier message",
        );
      });

      await t.step(
        "the §15.1 tables hold the public channel, also after a restart and a rebuild",
        async () => {
          for (const c of clients) await c.quit();
          clients.length = 0;
          await servers[0]!.stop();
          const read = () => {
            const db = new DatabaseSync(join(dirs[0]!, "socp.sqlite"), { readOnly: true });
            const group = db.prepare("SELECT group_id, creator_id, version FROM groups").all().map((
              r,
            ) => ({ ...r }));
            const members = db.prepare(
              "SELECT member_id, role, wrapped_key FROM group_members ORDER BY member_id",
            ).all().map((r) => ({ ...r }));
            db.close();
            return { group, members };
          };
          const before = read();
          assert.equal(before.group.length, 1);
          assert.deepEqual({ ...before.group[0], version: 0 }, {
            group_id: "public",
            creator_id: "system",
            version: 0,
          });
          assert.ok(Number(before.group[0]!.version) >= 1);
          const ids = before.members.map((m) => m.member_id);
          for (const c of everyone) assert.ok(ids.includes(c.user_id), "every user is a member");
          assert.ok(before.members.every((m) => m.role === "member"));
          for (const local of [alice!, dave!]) {
            assert.match(
              String(before.members.find((m) => m.member_id === local.user_id)!.wrapped_key),
              /^[A-Za-z0-9_-]{683}$/,
            );
          }
          // Projections are derived data: wipe them and fold the event log again.
          const store = Store.open(join(dirs[0]!, "socp.sqlite"));
          store.db.exec("DELETE FROM groups; DELETE FROM group_members;");
          store.rebuildProjections();
          store.close();
          assert.deepEqual(read(), before);
          servers[0] = await startServerProcess(dirs[0]!, [
            "--bootstrap",
            join(dirs[0]!, "bootstrap.yaml"),
          ], ports[0]!);
          assert.deepEqual(read().group[0]!.group_id, "public");
        },
      );
    } finally {
      for (const c of clients) await c.kill();
      for (const s of servers) await s.stop().catch(() => {});
    }
  },
});
