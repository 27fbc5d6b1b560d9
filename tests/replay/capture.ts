/**
 * Captures the interop replay fixture: a real server process, two clients written only from the
 * reference (Python-style wire variants), a DM each way, a bad signature and a weak key; then
 * the journal is exported with `replay --export`. Run it again only to refresh the fixture:
 *   deno run -A tests/replay/capture.ts
 * @module
 */
import { join } from "node:path";
import { fixtureKeyPem, RefClient } from "../independent/ref_client.ts";
import { makeDataDir, ROOT, runReplay, startServerProcess } from "../harness/processes.ts";

const dir = await makeDataDir("server3");
const server = await startServerProcess(dir);
const alice = await RefClient.connect({
  url: server.url,
  privateKeyPem: fixtureKeyPem("alice"),
  keyForm: "pem",
  saltLength: 478,
  contentSigVariant: "B",
  displayName: "alice",
});
const bob = await RefClient.connect({
  url: server.url,
  privateKeyPem: fixtureKeyPem("bob"),
  keyForm: "pem_b64u",
  saltLength: 32,
  contentSigVariant: "D",
  helloSig: "omit",
  displayName: "bob",
});
await alice.sendDirect(
  bob.userId,
  fixtureKeyPem("bob"),
  "hello bob (variant B, salt 478, PEM key)",
);
await bob.next("USER_DELIVER");
await bob.sendDirect(alice.userId, fixtureKeyPem("alice"), "hello alice (variant D, salt 32)");
await alice.next("USER_DELIVER");
await alice.list();
alice.send({
  ...alice.frame("LIST_REQUEST", server.server_id, {}),
  sig: bob.frame("LIST_REQUEST", "x", { x: 1 }).sig,
});
await alice.next("ERROR");
const weak = await RefClient.open({ url: server.url, privateKeyPem: fixtureKeyPem("carol") });
weak.send({
  type: "USER_HELLO",
  from: crypto.randomUUID(),
  to: "server",
  ts: Date.now(),
  payload: {
    client: "weak",
    pubkey: JSON.parse(Deno.readTextFileSync(join(ROOT, "tests/vectors/socp-1.3-vectors.json")))
      .weak_public_keys_must_be_rejected.rsa1024,
  },
  sig: "",
});
await weak.next("ERROR");
await new Promise((r) => setTimeout(r, 600)); // let the public-channel rekey happen
await alice.close();
await bob.close();
await server.stop();
const out = join(ROOT, "tests/replay/fixtures/interop_ref_client.sqlite");
await Deno.remove(out).catch(() => {});
console.log((await runReplay("--data-dir", dir, "--export", "1..100000", out)).stdout);
