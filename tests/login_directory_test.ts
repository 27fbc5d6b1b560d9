// Goal: spec §13 directory and login, over real processes. The client's key is kept encrypted;
// the server stores only the encrypted blob and a salted SRP verifier; a user logs in from a
// "new machine" with id and password; a wrong password is a clear error without locking anyone
// out; a registered user must answer a fresh nonce; the directory answers are signed and
// fingerprints compare; changed keys are reported loudly.
import assert from "node:assert/strict";
import { constants, createHash, createPrivateKey, createPublicKey, createSign } from "node:crypto";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { b64uEncode, fixtureKeyPem, RefClient } from "./independent/ref_client.ts";
import {
  assertReplayMatches,
  fixtureKeyPath,
  freePort,
  makeDataDir,
  ROOT,
  startClientProcess,
  startServerProcess,
} from "./harness/processes.ts";

async function client(
  url: string,
  keystore: string,
  passphrase: string,
  extra: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "main.ts"),
      "client",
      "--json",
      "--server",
      url,
      "--keystore",
      keystore,
      ...extra,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", SOCP_PASSPHRASE: passphrase },
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode("/quit\n"));
  await writer.close();
  const r = await out.output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

const fingerprintOf = (pem: string) =>
  createHash("sha256").update(createPublicKey(pem).export({ type: "spki", format: "der" })).digest(
    "hex",
  ).match(/.{4}/g)!.join(" ");

Deno.test({
  name:
    "directory and password login: encrypted key at rest, SRP login elsewhere, nonce proof, signed directory, key-change warnings",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const port = freePort();
    const dataDir = await makeDataDir("server1");
    let server = await startServerProcess(dataDir, [], port);
    const work = await Deno.makeTempDir();
    let aliceId = "";
    try {
      await t.step(
        "the client registers its encrypted key and an SRP verifier; the server holds nothing else",
        async () => {
          const alice = await startClientProcess(server.url, "alice", work);
          aliceId = alice.user_id;
          await alice.next((e) => e.event === "login_registered", 30_000, "login registered");
          assert.equal(await alice.quit(), 0);
          const db = new DatabaseSync(join(dataDir, "socp.sqlite"), { readOnly: true });
          const row = db.prepare(
            "SELECT privkey_store, pake_password, version FROM users WHERE user_id = ?",
          ).get(aliceId) as Record<string, string>;
          db.close();
          const blob = JSON.parse(row.privkey_store!);
          assert.equal(blob.format, "socp-keystore-v1");
          assert.equal(blob.kdf.name, "PBKDF2-SHA256");
          assert.ok(blob.kdf.iterations >= 600_000);
          assert.equal(blob.cipher.name, "AES-256-GCM");
          const pake = JSON.parse(row.pake_password!);
          assert.equal(pake.scheme, "srp6a-sha256-2048+pbkdf2-sha256");
          assert.match(pake.verifier, /^[0-9a-f]{256,}$/);
          const everything = row.privkey_store! + row.pake_password!;
          assert.ok(!everything.includes("passphrase of alice"), "the password is stored");
          assert.ok(
            !everything.includes("PRIVATE KEY") && !everything.includes("MIIJ"),
            "a clear private key is stored",
          );
          // The keystore on disk is encrypted the same way.
          const local = await Deno.readTextFile(join(work, "alice.json"));
          assert.ok(!local.includes("PRIVATE KEY") && !local.includes("MIIJ"));
        },
      );

      await t.step("a wrong password is a clear error; it locks nobody out", async () => {
        for (let i = 0; i < 4; i++) {
          const wrong = await client(
            server.url,
            join(work, `wrong-${i}.json`),
            "not the passphrase",
            ["--login", aliceId],
          );
          assert.equal(wrong.code, 3, wrong.stderr);
          assert.match(wrong.stderr, /Login refused: INVALID_SIG: wrong password for user/);
        }
        const unknown = await client(server.url, join(work, "nobody.json"), "x", [
          "--login",
          crypto.randomUUID(),
        ]);
        assert.equal(unknown.code, 3);
        assert.match(unknown.stderr, /no password login is registered/);
      });

      await t.step(
        "on a new machine the user logs in with id and password, and proves the key with a nonce",
        async () => {
          const fresh = join(work, "new-machine.json");
          const r = await client(server.url, fresh, "passphrase of alice", ["--login", aliceId]);
          assert.equal(r.code, 0, r.stderr);
          const ready = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) =>
            e.event === "ready"
          );
          assert.equal(ready.user_id, aliceId);
          assert.match(r.stderr, /Fetched your encrypted key/);
        },
      );

      await t.step(
        "a registered user's hello without a valid nonce signature is refused",
        async () => {
          const pem = fixtureKeyPem("alice");
          const c = await RefClient.open({ url: server.url, userId: aliceId, privateKeyPem: pem });
          c.send(c.helloFrame());
          const challenge = await c.next("AUTH_CHALLENGE");
          const nonce = String(challenge.payload!.nonce);
          assert.equal(
            await c.expectNone("ACK", 300),
            undefined,
            "no ACK before the nonce is answered",
          );
          const wrongNonce = sign(pem, `SOCP-AUTH|${server.server_id}|${aliceId}|not-${nonce}`);
          c.send(c.frame("AUTH_RESPONSE", server.server_id, { nonce, signature: wrongNonce }));
          assert.equal((await c.next("ERROR")).payload!.code, "INVALID_SIG");
          assert.equal((await c.closed).code, 1008);
          // Answered properly, the same key gets in.
          const ok = await RefClient.open({ url: server.url, userId: aliceId, privateKeyPem: pem });
          ok.send(ok.helloFrame());
          const n2 = String((await ok.next("AUTH_CHALLENGE")).payload!.nonce);
          ok.send(
            ok.frame("AUTH_RESPONSE", server.server_id, {
              nonce: n2,
              signature: sign(pem, `SOCP-AUTH|${server.server_id}|${aliceId}|${n2}`),
            }),
          );
          await ok.next("ACK");
          ok.assertServerSigsOk();
          await ok.close();
        },
      );

      await t.step(
        "the directory answers with a signed key whose fingerprint matches",
        async () => {
          const alice = await startClientProcess(server.url, "alice", work);
          const bob = await startClientProcess(server.url, "bob", work);
          await alice.next(
            (e) => e.event === "online" && e.user_id === bob.user_id,
            15_000,
            "bob online",
          );
          await alice.command("/whois bob");
          const whois = await alice.next((e) => e.event === "whois", 15_000, "whois");
          assert.equal(whois.user_id, bob.user_id);
          assert.equal(whois.fingerprint, fingerprintOf(fixtureKeyPem("bob")));
          assert.deepEqual([
            whois.matches_advertised,
            whois.matches_pin,
            whois.online,
            whois.authority,
          ], [true, true, true, "registered"]);
          await alice.command("/whois 00000000-0000-4000-8000-000000000000");
          assert.match(
            String(
              (await alice.next(
                (e) => e.event === "error" && e.code === "CLIENT",
                15_000,
                "unknown whois",
              )).detail,
            ),
            /knows no key/,
          );
          const ref = await RefClient.connect({
            url: server.url,
            privateKeyPem: fixtureKeyPem("carol"),
          });
          const answer = await ref.request(
            ref.frame("PUBKEY_REQUEST", server.server_id, { user_id: bob.user_id }),
            "PUBKEY_RESPONSE",
          );
          assert.equal(answer.payload!.server_id, server.server_id);
          ref.assertServerSigsOk();
          ref.terminate();
          await alice.quit();
          await bob.quit();
        },
      );

      await t.step("a changed server key and a changed user key are reported loudly", async () => {
        // Pin a wrong key for bob in alice's known keys, as if he had changed his.
        const knownPath = join(work, "alice.known.json");
        const known = JSON.parse(await Deno.readTextFile(knownPath));
        const bobId = Object.keys(known.users).find((id) => id !== aliceId)!;
        known.users[bobId] = createPublicKey(fixtureKeyPem("eve")).export({
          type: "spki",
          format: "der",
        }).toString("base64url");
        await Deno.writeTextFile(knownPath, JSON.stringify(known));
        const bob = await startClientProcess(server.url, "bob", work);
        const alice = await startClientProcess(server.url, "alice", work);
        await alice.next(
          (e) => e.event === "warning" && /KEY CHANGED for bob/.test(String(e.message)),
          15_000,
          "user key warning",
        );
        await alice.quit();
        await bob.quit();
        // Another server (another key) on the same address.
        await server.stop();
        server = await startServerProcess(await makeDataDir("server2"), [], port);
        const again = await startClientProcess(server.url, "alice", work);
        await again.next(
          (e) => e.event === "warning" && /SERVER KEY CHANGED/.test(String(e.message)),
          15_000,
          "server key warning",
        );
        await again.quit();
      });
    } finally {
      await server.stop();
    }
    await assertReplayMatches(dataDir);
  },
});

function sign(pem: string, text: string): string {
  return b64uEncode(
    createSign("sha256").update(text).sign({
      key: createPrivateKey(pem),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    }),
  );
}
void fixtureKeyPath;
