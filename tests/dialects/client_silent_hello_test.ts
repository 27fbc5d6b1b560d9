// Goal: a server that answers a good USER_HELLO with nothing (the spec defines no reply) is
// joined after a quiet period without an ERROR, on a manual clock, and the status line says so;
// an ERROR within the period still refuses; a server key pinned earlier verifies the silent
// server's frames (a forged one is dropped). Terminal session and browser session, both ways.
import assert from "node:assert/strict";
import { join } from "node:path";
import { KnownKeys } from "../../client/known_keys.ts";
import { render } from "../../client/render.ts";
import { FakeServer, fixtureSpki } from "./fake_server.ts";
import { connectBrowser, connectTerminal, refusedTerminal } from "./drivers.ts";
import { browserBothWays, terminalBothWays } from "./both_ways.ts";

Deno.test({
  name: "client dialect: silent hello",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = new FakeServer({ hello: "silent" });
    await server.start();
    try {
      await t.step("terminal: connected after the quiet period; list, presence, DMs", async () => {
        const carol = server.addTheirUser("Carol", "carol");
        const alice = await connectTerminal(server, "alice");
        const ready = await alice.waitFor("ready");
        assert.equal(ready.hello, "quiet");
        assert.equal(ready.server_pub, "", "no key was proven");
        assert.equal(ready.content_sig, "A (auto)");
        assert.match(render(ready), /no reply to USER_HELLO and no ERROR within 1000 ms/);
        assert.match(render(ready), /NOT verified/);
        assert.equal(alice.session.server_id, server.id, "server id learned from its frames");
        await terminalBothWays(server, alice, carol, "A", "A");
        await alice.session.close();
      });

      await t.step("terminal: an ERROR before the quiet period ends refuses", async () => {
        const refusing = new FakeServer({ hello: "silent", refuse: "NAME_IN_USE" });
        await refusing.start();
        try {
          const { error, events } = await refusedTerminal(refusing);
          assert.match(String(error), /NAME_IN_USE/);
          assert.ok(!events.some((e) => e.event === "ready"));
        } finally {
          await refusing.stop();
        }
      });

      await t.step("terminal: a pinned server key verifies the silent server", async () => {
        const dir = Deno.makeTempDirSync();
        const path = join(dir, "known.json");
        Deno.writeTextFileSync(
          path,
          JSON.stringify({ servers: { [server.url]: fixtureSpki("server1") }, users: {} }),
        );
        const known = await KnownKeys.load(path);
        const dave = server.addTheirUser("Dave", "dave");
        const alice = await connectTerminal(server, "alice", { known });
        const ready = await alice.waitFor("ready");
        assert.equal(ready.server_pub, fixtureSpki("server1"));
        assert.match(render(ready), /verified with its pinned key/);
        const ghost = crypto.randomUUID();
        server.forge(alice.user_id, "USER_ADVERTISE", {
          user_id: ghost,
          server_id: server.id,
          pubkey: fixtureSpki("eve"),
          meta: { display_name: "Ghost" },
        }, "eve");
        await alice.waitFor("warning", (e) => /signature does not verify/.test(e.message));
        assert.ok(!alice.session.contacts.has(ghost), "a forged advertise is dropped");
        await terminalBothWays(server, alice, dave, "A", "A");
        await alice.session.close();
      });

      await t.step("browser: online after the quiet period; contacts, presence, DMs", async () => {
        const erin = server.addTheirUser("Erin", "carol");
        const bob = await connectBrowser(server, "bob");
        const online = bob.session.connection;
        assert.equal(online.state, "online");
        if (online.state === "online") {
          assert.equal(online.hello, "quiet");
          assert.equal(online.content_sig, "A (auto)");
        }
        await browserBothWays(server, bob, erin, "A", "A");
        bob.session.stop();
      });
    } finally {
      await server.stop();
    }
  },
});
