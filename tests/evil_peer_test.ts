// Goal: a hostile peer server cannot fool us. Each forged, unsigned, mis-signed, out-of-scope,
// replayed or stale frame it sends over a server link is dropped, and the journal says why.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createPrivateKey } from "node:crypto";
import { EvilServer } from "./harness/evil_server.ts";
import { b64uEncode, fixtureKeyPem, RefClient } from "./independent/ref_client.ts";
import {
  assertReplayMatches,
  eventually,
  fixturePubkey,
  freePort,
  health,
  makeDataDir,
  runReplay,
  startServerProcess,
  writeBootstrap,
} from "./harness/processes.ts";

Deno.test({
  name:
    "evil peer: forged, unsigned, wrong-key, out-of-scope, replayed and stale frames are dropped and journaled",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const [pa, pb] = [freePort(), freePort()];
    const dirA = await makeDataDir("server1");
    const dirB = await makeDataDir("server2");
    const a = await startServerProcess(dirA, ["--bootstrap", await writeBootstrap(dirA, [])], pa);
    const b = await startServerProcess(dirB, [
      "--bootstrap",
      await writeBootstrap(dirB, [{
        host: "127.0.0.1",
        port: pa,
        pubkey: await fixturePubkey("server1"),
      }]),
    ], pb);
    const evil = new EvilServer(crypto.randomUUID(), "server5");
    const alice = await RefClient.connect({ url: a.url, privateKeyPem: fixtureKeyPem("alice") });
    const bob = await RefClient.connect({ url: b.url, privateKeyPem: fixtureKeyPem("bob") });
    const reasons = () => {
      const db = new DatabaseSync(join(dirA, "socp.sqlite"), { readOnly: true });
      const rows = db.prepare("SELECT verdict, reason, raw FROM journal WHERE link LIKE 'conn:%'")
        .all();
      db.close();
      return rows as { verdict: string; reason: string; raw: string }[];
    };
    const dropped = async (marker: string, why: RegExp) => {
      await eventually(
        `journal explains ${marker}`,
        () =>
          reasons().some((r) =>
            r.raw.includes(marker) && r.verdict === "dropped" && why.test(r.reason)
          ),
        5000,
      );
    };
    try {
      await eventually("A and B linked", async () => (await health(pa)).servers_linked === 1);
      await evil.link(a.url, a.server_id);
      await eventually("evil linked to A", async () => (await health(pa)).servers_linked === 2);
      const advertise = (user: string, server: string) => ({
        user_id: user,
        server_id: server,
        meta: { display_name: user },
        pubkey: evil.pubkey,
      });

      await t.step("a forged USER_ADVERTISE claiming to come from B", async () => {
        evil.send(
          evil.frame("USER_ADVERTISE", "*", advertise("forged-1", b.server_id), {
            as: b.server_id,
          }),
        );
        await dropped(
          "forged-1",
          /INVALID_SIG: signature of USER_ADVERTISE does not verify with the pinned key of server/,
        );
      });
      await t.step("an unsigned USER_ADVERTISE", async () => {
        evil.send(
          evil.frame("USER_ADVERTISE", "*", advertise("unsigned-1", evil.id), { signer: null }),
        );
        await dropped("unsigned-1", /INVALID_SIG: unsigned USER_ADVERTISE/);
      });
      await t.step("a USER_ADVERTISE signed by the wrong server's key", async () => {
        const other = createPrivateKey(fixtureKeyPem("server4"));
        evil.send(
          evil.frame("USER_ADVERTISE", "*", advertise("wrongkey-1", evil.id), { signer: other }),
        );
        await dropped("wrongkey-1", /INVALID_SIG/);
      });
      await t.step("an advertise of a user on another server", async () => {
        evil.send(evil.frame("USER_ADVERTISE", "*", advertise("hijack-1", b.server_id)));
        await dropped("hijack-1", /may advertise only its own users/);
        evil.send(evil.frame("USER_REMOVE", "*", { user_id: bob.userId, server_id: b.server_id }));
        await dropped(`"user_id":"${bob.userId}","server_id"`, /may remove only its own users/);
        assert.ok((await alice.list()).includes(bob.userId), "Bob must still be listed on A");
      });
      await t.step("a replayed SERVER_DELIVER is delivered once", async () => {
        const deliver = alice.buildDirect(alice.userId, alice.pubkeyText(), "replay me");
        const payload = {
          user_id: alice.userId,
          sender: alice.userId,
          ciphertext: deliver.payload!.ciphertext,
          sender_pub: alice.pubkeyText("spki_b64u"),
          content_sig: deliver.payload!.content_sig,
        };
        const frame = evil.frame("SERVER_DELIVER", a.server_id, payload, { ts: deliver.ts });
        evil.send(frame);
        evil.send(frame);
        await alice.next("USER_DELIVER");
        assert.equal(
          await alice.expectNone("USER_DELIVER", 400),
          undefined,
          "replay was delivered",
        );
        await dropped(String(payload.ciphertext).slice(0, 40), /duplicate: seen id/);
      });
      await t.step("a SERVER_DELIVER with a stale ts", async () => {
        const ct = b64uEncode(new Uint8Array(512).fill(7));
        evil.send(
          evil.frame("SERVER_DELIVER", a.server_id, {
            user_id: alice.userId,
            sender: "x",
            ciphertext: ct,
            sender_pub: evil.pubkey,
            content_sig: ct,
          }, { ts: Date.now() - 3_600_000 }),
        );
        await dropped(ct.slice(0, 40), /stale ts/);
        assert.equal(await alice.expectNone("USER_DELIVER", 300), undefined);
      });
      await t.step("a frame from a server nobody pinned", async () => {
        evil.send(
          evil.frame("USER_ADVERTISE", "*", advertise("ghost-1", "ghost-server"), {
            as: "ghost-server",
          }),
        );
        await dropped("ghost-1", /unknown server ghost-server/);
      });
      assert.equal(
        await alice.expectNone((f) =>
          f.type === "USER_ADVERTISE" &&
          /forged|unsigned|wrongkey|hijack|ghost/.test(String(f.payload?.user_id)), 100),
        undefined,
      );
    } finally {
      evil.close();
      alice.terminate();
      bob.terminate();
      await a.stop();
      await b.stop();
    }
    // replay explains, offline, exactly why the forged advertise was dropped.
    const timeline = await runReplay("--data-dir", dirA, "--filter", "USER_ADVERTISE");
    assert.equal(timeline.code, 0);
    assert.ok(
      timeline.stdout.includes(
        `DROPPED: INVALID_SIG: signature of USER_ADVERTISE does not verify with the pinned key of server ${b.server_id}`,
      ),
      timeline.stdout,
    );
    assert.match(
      timeline.stdout,
      /DROPPED: USER_ADVERTISE from \S+ names server \S+: a server may advertise only its own users/,
    );
    await assertReplayMatches(dirA);
    await assertReplayMatches(dirB);
  },
});
