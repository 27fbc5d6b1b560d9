// Goal: hostile input from a user link is answered with the right ERROR (or a close), is
// journaled with its reason, and never stops the server serving everyone else. Also: each
// weak-key class of the spec's §16 is rejected by name (RSA-1024, RSA-2048, e = 3, garbage).
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fixtureKeyPem, type Frame, RefClient } from "./independent/ref_client.ts";
import { makeDataDir, ROOT, startServerProcess } from "./harness/processes.ts";

const vectors = JSON.parse(
  Deno.readTextFileSync(join(ROOT, "tests/vectors/socp-1.3-vectors.json")),
);
const code = (f: Frame) => (f.payload as { code?: string } | undefined)?.code;
const detail = (f: Frame) => String((f.payload as { detail?: string } | undefined)?.detail ?? "");

Deno.test({
  name: "hostile user input gets the right ERROR or close while others keep chatting",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = await startServerProcess(await makeDataDir("server2"));
    const alice = await RefClient.connect({
      url: server.url,
      privateKeyPem: fixtureKeyPem("alice"),
      displayName: "alice",
    });
    const bob = await RefClient.connect({
      url: server.url,
      privateKeyPem: fixtureKeyPem("bob"),
      displayName: "bob",
    });
    const mallory = await RefClient.connect({
      url: server.url,
      privateKeyPem: fixtureKeyPem("eve"),
    });
    const stillServing = async (text: string) => {
      await alice.list();
      await alice.sendDirect(bob.userId, undefined, text);
      const got = bob.openDeliver(await bob.next((f) => f.type === "USER_DELIVER"));
      assert.equal(got.plaintext, text);
      assert.equal(got.contentSigOk, true);
    };
    try {
      await t.step("non-JSON, a JSON array, a scalar", async () => {
        for (const raw of ["this is not json", "[1,2,3]", "42"]) {
          mallory.sendRaw(raw);
          const err = await mallory.next("ERROR");
          assert.equal(code(err), "BAD_KEY");
          assert.match(detail(err), /JSON|object/);
        }
        await stillServing("after junk");
      });

      await t.step("missing fields, wrong types, bad base64", async () => {
        const base = mallory.frame("MSG_DIRECT", bob.userId, {
          ciphertext: "AAAA",
          sender_pub: mallory.pubkeyText(),
          content_sig: "AAAA",
        });
        const cases: [Record<string, unknown>, RegExp][] = [
          [
            { ...base, payload: { sender_pub: mallory.pubkeyText(), content_sig: "AAAA" } },
            /payload\.ciphertext.*missing/,
          ],
          [{ ...base, ts: "now" }, /"ts"/],
          [{ ...base, to: 7 }, /"to"/],
          [
            { ...base, payload: { ...base.payload, ciphertext: "%%%not base64%%%" } },
            /payload\.ciphertext/,
          ],
          [{ ...base, payload: "nope" }, /"payload"/],
        ];
        for (const [frame, why] of cases) {
          mallory.sendRaw(JSON.stringify(frame));
          const err = await mallory.next("ERROR");
          assert.equal(code(err), "BAD_KEY");
          assert.match(detail(err), why);
        }
        await stillServing("after bad fields");
      });

      await t.step("an unknown type and an obsolete v1.1 type", async () => {
        for (const type of ["NO_SUCH_TYPE", "MSG_PRIVATE"]) {
          mallory.send(mallory.frame(type, bob.userId, {}));
          const err = await mallory.next("ERROR");
          assert.equal(code(err), "UNKNOWN_TYPE");
        }
      });

      await t.step("a bad user signature is INVALID_SIG", async () => {
        const f = mallory.frame("LIST_REQUEST", server.server_id, {});
        mallory.send({ ...f, sig: alice.frame("LIST_REQUEST", "x", { other: 1 }).sig });
        assert.equal(code(await mallory.next("ERROR")), "INVALID_SIG");
      });

      await t.step("frames as somebody else, or with another sender_pub, are refused", async () => {
        mallory.send({
          ...mallory.frame("LIST_REQUEST", server.server_id, {}, { sign: false }),
          from: alice.userId,
        });
        assert.match(detail(await mallory.next("ERROR")), /"from"/);
        const spoof = mallory.buildDirect(bob.userId, undefined, "hi", {});
        const payload = {
          ...(spoof.payload as Record<string, unknown>),
          sender_pub: alice.pubkeyText(),
        };
        mallory.send({ ...spoof, payload, sig: "" });
        assert.match(detail(await mallory.next("ERROR")), /sender_pub/);
        assert.equal(await bob.expectNone("USER_DELIVER", 300), undefined);
      });

      await t.step(
        "a frame over the size limit is answered and the link closed (1009)",
        async () => {
          const big = await RefClient.connect({
            url: server.url,
            privateKeyPem: fixtureKeyPem("carol"),
          });
          big.sendRaw(
            JSON.stringify({
              type: "LIST_REQUEST",
              from: big.userId,
              to: "s",
              ts: 1,
              payload: { pad: "x".repeat(70_000) },
              sig: "",
            }),
          );
          assert.match(detail(await big.next("ERROR")), /larger than/);
          assert.equal((await big.closed).code, 1009);
          await stillServing("after a huge frame");
        },
      );

      await t.step("weak and malformed keys are BAD_KEY, by name", async () => {
        const weak: [string, string, RegExp][] = [
          ["RSA-1024", vectors.weak_public_keys_must_be_rejected.rsa1024, /1024 bits/],
          ["RSA-2048", vectors.weak_public_keys_must_be_rejected.rsa2048, /2048 bits/],
          ["e = 3", vectors.weak_public_keys_must_be_rejected.rsa4096_e3, /exponent is 3/],
          ["garbage", "bm90IGEga2V5", /not a valid RSA public key/],
          ["truncated", vectors.key.public_spki_b64u.slice(0, 300), /not a valid RSA public key/],
        ];
        for (const [name, pubkey, why] of weak) {
          const c = await RefClient.open({ url: server.url, privateKeyPem: fixtureKeyPem("dave") });
          c.send({
            type: "USER_HELLO",
            from: crypto.randomUUID(),
            to: "server",
            ts: Date.now(),
            payload: { client: "evil", pubkey },
            sig: "",
          });
          const err = await c.next("ERROR");
          assert.equal(code(err), "BAD_KEY", name);
          assert.match(detail(err), why, name);
          assert.equal((await c.closed).code, 1008, name);
        }
        await stillServing("after weak keys");
      });

      await t.step("every refusal is journaled with its reason", () => {
        const db = new DatabaseSync(join(server.dataDir, "socp.sqlite"), { readOnly: true });
        const reasons = db.prepare("SELECT reason FROM journal WHERE verdict = 'dropped'").all()
          .map((r) => String(r.reason));
        db.close();
        for (
          const want of [
            /BAD_KEY: frame is not JSON/,
            /UNKNOWN_TYPE: unknown frame type "NO_SUCH_TYPE"/,
            /INVALID_SIG/,
            /1024 bits/,
            /exponent is 3/,
          ]
        ) {
          assert.ok(
            reasons.some((r) => want.test(r)),
            `journal lacks ${want}: ${reasons.join(" | ")}`,
          );
        }
      });
      alice.assertServerSigsOk();
      bob.assertServerSigsOk();
    } finally {
      for (const c of [alice, bob, mallory]) c.terminate();
      await server.stop();
    }
  },
});
