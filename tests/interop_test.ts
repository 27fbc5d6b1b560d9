// Goal: a client written only from the reference (tests/independent/ref_client.ts: node:crypto,
// Python-style wire variants of SOCP-1.3.md §5) interoperates with our server and our client,
// in both directions, for each tolerated variant. Every server frame it receives verifies.
import assert from "node:assert/strict";
import { fixtureKeyPem, RefClient, type RefClientOptions } from "./independent/ref_client.ts";
import { makeDataDir, startClientProcess, startServerProcess } from "./harness/processes.ts";

const VARIANTS: [string, Partial<RefClientOptions>][] = [
  ["PEM key, salt 478, content_sig B, padded base64, hello sig empty", {
    keyForm: "pem",
    saltLength: 478,
    contentSigVariant: "B",
    ctEncoding: "b64",
    helloSig: "empty",
  }],
  ["base64url(PEM) key, salt 32, content_sig D, hello without sig", {
    keyForm: "pem_b64u",
    saltLength: 32,
    contentSigVariant: "D",
    ctEncoding: "b64u",
    helloSig: "omit",
  }],
  ["DER SPKI key, content_sig A, signed hello with enc_pubkey, compact JSON", {
    keyForm: "spki_b64u",
    contentSigVariant: "A",
    helloSig: "signed",
    sendEncPubkey: true,
    wireStyle: "compact",
  }],
  ["unsigned frames", { signFrames: false }],
];

Deno.test({
  name: "reference client (every §5 variant) and our client exchange verified DMs both ways",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = await startServerProcess(await makeDataDir("server3"));
    const ours = await startClientProcess(server.url, "alice", await Deno.makeTempDir());
    try {
      for (const [name, options] of VARIANTS) {
        await t.step(name, async () => {
          const ref = await RefClient.connect({
            url: server.url,
            privateKeyPem: fixtureKeyPem("bob"),
            displayName: `ref-${name.slice(0, 12)}`,
            ...options,
          });
          try {
            // The newcomer learns Alice from the advertise replay, Alice learns the newcomer.
            const aliceEntry = await ref.next((f) =>
              f.type === "USER_ADVERTISE" && f.payload?.user_id === ours.user_id
            );
            assert.ok(aliceEntry);
            await ours.next(
              (e) => e.event === "online" && e.user_id === ref.userId,
              15_000,
              "ref online",
            );

            const text = `from the reference client: ${name} ✓`;
            await ref.sendDirect(ours.user_id, undefined, text);
            const got = await ours.next(
              (e) => e.event === "dm" && e.text === text,
              15_000,
              "dm from ref",
            );
            assert.equal(got.verified, true);
            assert.equal(got.from, ref.userId);

            await ours.command(`/tell ${ref.userId} hello reference, ünïcode 😀 (${name})`);
            const deliver = await ref.next("USER_DELIVER");
            const opened = ref.openDeliver(deliver);
            assert.equal(opened.plaintext, `hello reference, ünïcode 😀 (${name})`);
            assert.equal(opened.contentSigOk, true);
            // We answer in the layout their own DM verified under (§5.2): A to an A signer,
            // and B or D to a peer that signs B or D, which may verify nothing else.
            assert.equal(
              opened.variant,
              ref.opts.contentSigVariant,
              "we sign content_sig in the peer's layout",
            );
            assert.equal(deliver.ts, opened.ts);

            const users = await ref.list();
            assert.deepEqual(users, [...users].sort());
            assert.ok(users.includes(ours.user_id) && users.includes(ref.userId));
            ref.assertServerSigsOk();
          } finally {
            await ref.close();
          }
          await ours.next(
            (e) => e.event === "offline" && e.user_id === ref.userId,
            15_000,
            "ref offline",
          );
          ours.events.length = 0;
        });
      }
    } finally {
      await ours.kill();
      await server.stop();
    }
  },
});
