// Goal: a server that verifies only content_sig layout B and silently drops every other DM.
// Our first DM (layout A) vanishes without an ERROR; a DM from their user that verifies under B
// teaches the client to sign B through that server, so the next DM arrives; the layout is
// remembered with the server's pinned key and used from the start next time; a layout chosen
// with --content-sig is never changed by what arrives. Terminal session and browser session.
import assert from "node:assert/strict";
import { join } from "node:path";
import { KnownKeys } from "../../client/known_keys.ts";
import { render } from "../../client/render.ts";
import { eventually } from "../harness/processes.ts";
import { FakeServer, fixtureSpki } from "./fake_server.ts";
import { MapMemory } from "../harness/map_memory.ts";
import { connectBrowser, connectTerminal } from "./drivers.ts";
import { browserBothWays, terminalBothWays } from "./both_ways.ts";

Deno.test({
  name: "client dialect: a server that verifies only content_sig layout B",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = new FakeServer({ hello: "ack", serverLayouts: ["B"] });
    await server.start();
    const knownPath = join(Deno.makeTempDirSync(), "alice.known.json");
    try {
      await t.step(
        "terminal: A is dropped, B is learned from their DM, then delivered",
        async () => {
          const carol = server.addTheirUser("Carol", "carol");
          const alice = await connectTerminal(server, "alice", {
            known: await KnownKeys.load(knownPath),
          });
          const ready = await alice.waitFor("ready");
          assert.equal(ready.hello, "ack");
          assert.equal(ready.content_sig, "A (auto)");
          await alice.waitFor("online", (e) => e.user_id === carol.id);

          await alice.session.tell(carol.id, "signed A");
          await eventually("the server dropped it", () => server.dropped === 1);
          assert.equal(carol.inbox.length, 0, "nothing reached their user");
          assert.ok(!alice.events.some((e) => e.event === "error"), "and nobody said why");

          server.dm(carol, alice.user_id, "signed B", "B");
          const learned = await alice.waitFor("content_sig");
          assert.equal(learned.layout, "B (auto)");
          assert.match(render(learned), /verified under layout B/);
          assert.equal(alice.session.contentSig, "B (auto)");
          await alice.session.tell(carol.id, "now in B");
          await eventually("delivered", () => carol.inbox.some((m) => m.text === "now in B"));
          assert.equal(server.dropped, 1);

          const saved = JSON.parse(Deno.readTextFileSync(knownPath));
          assert.deepEqual(saved.layouts[server.url], {
            layout: "B",
            server_key: fixtureSpki("server1"),
          });
          server.removeTheirUser(carol.id);
          await alice.session.close();
        },
      );

      await t.step("terminal: the learned layout is used from the start; both ways", async () => {
        const dave = server.addTheirUser("Dave", "dave");
        const alice = await connectTerminal(server, "alice", {
          known: await KnownKeys.load(knownPath),
        });
        assert.equal((await alice.waitFor("ready")).content_sig, "B (auto)");
        await terminalBothWays(server, alice, dave, "B", "B");
        assert.equal(server.dropped, 1, "nothing more was dropped");
        await alice.session.close();
      });

      await t.step("terminal: --content-sig A is kept whatever arrives", async () => {
        const carol = server.addTheirUser("Carol", "carol");
        const alice = await connectTerminal(server, "alice", {
          known: await KnownKeys.load(knownPath),
          contentSig: "A",
        });
        assert.equal((await alice.waitFor("ready")).content_sig, "A (fixed)");
        await alice.waitFor("online", (e) => e.user_id === carol.id);
        server.dm(carol, alice.user_id, "B again", "B");
        assert.equal((await alice.waitFor("dm")).verified, true);
        assert.equal(alice.session.contentSig, "A (fixed)");
        const dropped = server.dropped;
        await alice.session.tell(carol.id, "forced A");
        await eventually("dropped again", () => server.dropped === dropped + 1);
        server.removeTheirUser(carol.id);
        await alice.session.close();
      });

      await t.step("browser: learns B, keeps it with the pin, both ways", async () => {
        const erin = server.addTheirUser("Erin", "carol");
        const memory = new MapMemory();
        const bob = await connectBrowser(server, "bob", memory);
        const before = bob.session.connection;
        assert.ok(before.state === "online" && before.content_sig === "A (auto)");
        await browserBothWays(server, bob, erin, "B", "B");
        const after = bob.session.connection;
        assert.ok(after.state === "online" && after.content_sig === "B (auto)");
        assert.equal(memory.pins.get(server.url)?.content_sig, "B");
        assert.equal(memory.pins.get(server.url)?.spki, fixtureSpki("server1"));
        bob.session.stop();
      });
    } finally {
      await server.stop();
    }
  },
});
