// Goal: a peer client that verifies only content_sig layout D (canonical JSON), behind a server
// that relays everything. Our layout-A DM reaches it unverified; its own DM (signed D) verifies
// with us and teaches us D, after which it verifies ours. `--content-sig D` on the real client
// process signs D from the first DM; a bad --content-sig value is refused. Terminal session,
// terminal process and browser session.
import assert from "node:assert/strict";
import { join } from "node:path";
import { eventually, ROOT, startClientProcess } from "../harness/processes.ts";
import { FakeServer } from "./fake_server.ts";
import { connectBrowser, connectTerminal } from "./drivers.ts";
import { browserBothWays, terminalBothWays } from "./both_ways.ts";

Deno.test({
  name: "client dialect: a peer client that verifies only content_sig layout D",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = new FakeServer({ hello: "ack" });
    await server.start();
    try {
      await t.step("terminal: A is not verified by the peer; D is learned from it", async () => {
        const dave = server.addTheirUser("Dave", "dave", ["D"]);
        const alice = await connectTerminal(server, "alice");
        await alice.waitFor("online", (e) => e.user_id === dave.id);
        await alice.session.tell(dave.id, "in A");
        await eventually("delivered", () => dave.inbox.some((m) => m.text === "in A"));
        assert.equal(dave.inbox[0]!.layout, undefined, "their client cannot verify layout A");
        // Both ways; their D-signed DM teaches D, so our next DM verifies with them.
        await terminalBothWays(server, alice, dave, "D", "D");
        assert.equal(alice.session.contentSig, "D (auto)");
        await alice.session.close();
      });

      await t.step("browser: learns D from the peer, both ways", async () => {
        const dora = server.addTheirUser("Dora", "carol", ["D"]);
        const bob = await connectBrowser(server, "bob");
        await browserBothWays(server, bob, dora, "D", "D");
        const state = bob.session.connection;
        assert.ok(state.state === "online" && state.content_sig === "D (auto)");
        bob.session.stop();
      });

      await t.step("process: --content-sig D signs D from the first DM", async () => {
        const dir = Deno.makeTempDirSync();
        const dave = server.addTheirUser("Dave", "dave", ["D"]);
        const alice = await startClientProcess(server.url, "alice", dir, "alice", [
          "--content-sig",
          "D",
        ]);
        try {
          const ready = await alice.next((e) => e.event === "ready");
          assert.equal(ready.content_sig, "D (fixed)");
          await alice.next((e) => e.event === "online" && e.user_id === dave.id);
          await alice.command(`/tell ${dave.id} first and verified`);
          await eventually(
            "delivered",
            () => dave.inbox.some((m) => m.text === "first and verified"),
          );
          assert.equal(dave.inbox.find((m) => m.text === "first and verified")!.layout, "D");
        } finally {
          assert.equal(await alice.quit(), 0);
        }
        const bad = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", join(ROOT, "main.ts"), "client", "--content-sig", "E"],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(bad.code, 2);
        assert.match(new TextDecoder().decode(bad.stderr), /expected A, B, C, D or auto/);
      });
    } finally {
      await server.stop();
    }
  },
});
