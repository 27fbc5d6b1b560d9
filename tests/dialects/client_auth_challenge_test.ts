// Goal: a server that challenges with AUTH_CHALLENGE {challenge} (not our {nonce}) gets
// AUTH_PROOF {challenge, signature}, PSS over the raw challenge bytes with the user key, and
// then both directions work; a challenge that could stand for another signature of the user key
// (32 bytes: a layout-C digest) or one signed before is refused and the client does not
// connect. The real terminal client process writes a --trace that `replay --trace` renders,
// flagging the server's non-UUID id. Terminal session, terminal process and browser session.
import assert from "node:assert/strict";
import { join } from "node:path";
import { SignedChallenges } from "../../protocol/auth_challenge.ts";
import { eventually, ROOT, startClientProcess } from "../harness/processes.ts";
import { FakeServer, randomChallenge } from "./fake_server.ts";
import { connectBrowser, connectTerminal, refusedTerminal } from "./drivers.ts";
import { browserBothWays, terminalBothWays } from "./both_ways.ts";

Deno.test({
  name: "client dialect: AUTH_CHALLENGE {challenge}",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const server = new FakeServer({
      hello: "silent",
      challenge: randomChallenge(24),
      id: "server_1",
    });
    await server.start();
    try {
      await t.step("terminal: AUTH_PROOF over the raw bytes, then both ways", async () => {
        const carol = server.addTheirUser("Carol", "carol");
        const alice = await connectTerminal(server, "alice");
        assert.equal(server.proofs, 1, "the server verified our proof");
        const proof = server.received.find((f) => f.type === "AUTH_PROOF")!;
        const asked = server.received.find((f) => f.type === "USER_HELLO")!;
        assert.equal(proof.from, asked.from);
        assert.ok(!server.received.some((f) => f.type === "AUTH_RESPONSE"), "no nonce answer");
        assert.equal((await alice.waitFor("ready")).hello, "quiet");
        await terminalBothWays(server, alice, carol, "A", "A");
        await alice.session.close();
      });

      await t.step("terminal: a 32-byte challenge (a possible digest) is refused", async () => {
        const digestSized = new FakeServer({ hello: "silent", challenge: randomChallenge(32) });
        await digestSized.start();
        try {
          const { error, events } = await refusedTerminal(digestSized);
          assert.match(String(error), /32-byte challenge could be a SHA-256 digest/);
          assert.ok(events.some((e) => e.event === "error" && /refused to sign/.test(e.detail)));
          assert.ok(!digestSized.received.some((f) => f.type === "AUTH_PROOF"), "nothing signed");
        } finally {
          await digestSized.stop();
        }
      });

      await t.step("terminal: a challenge signed before is refused", async () => {
        const fixed = crypto.getRandomValues(new Uint8Array(24));
        const replaying = new FakeServer({ hello: "silent", challenge: () => fixed });
        await replaying.start();
        try {
          const challenges = new SignedChallenges();
          const first = await connectTerminal(replaying, "alice", { challenges });
          assert.equal(replaying.proofs, 1);
          const second = await refusedTerminal(replaying, { challenges });
          assert.match(String(second.error), /signed before/);
          assert.equal(replaying.proofs, 1, "no second proof");
          await first.session.close();
        } finally {
          await replaying.stop();
        }
      });

      await t.step("browser: AUTH_PROOF, then both ways", async () => {
        const erin = server.addTheirUser("Erin", "carol");
        const before = server.proofs;
        const bob = await connectBrowser(server, "bob");
        assert.equal(server.proofs, before + 1);
        await browserBothWays(server, bob, erin, "A", "A");
        bob.session.stop();
      });

      await t.step("browser: a challenge replayed on reconnection stops the session", async () => {
        const fixed = crypto.getRandomValues(new Uint8Array(40));
        const replaying = new FakeServer({ hello: "silent", challenge: () => fixed });
        await replaying.start();
        try {
          const bob = await connectBrowser(replaying, "bob");
          assert.equal(replaying.proofs, 1);
          replaying.kick();
          const stopped = await bob.waitFor(
            "connection",
            (e) => e.connection.state === "stopped",
          );
          assert.match(JSON.stringify(stopped), /signed before/);
          assert.equal(replaying.proofs, 1, "no second proof");
        } finally {
          await replaying.stop();
        }
      });

      await t.step(
        "process: --trace records the exchange; replay --trace explains it",
        async () => {
          const dir = Deno.makeTempDirSync();
          const trace = join(dir, "alice.trace.jsonl");
          const dave = server.addTheirUser("Dave", "dave");
          const alice = await startClientProcess(server.url, "alice", dir, "alice", [
            "--trace",
            trace,
          ]);
          try {
            await alice.next((e) => e.event === "online" && e.user_id === dave.id);
            await alice.command(`/tell ${dave.id} traced hello`);
            await eventually(
              "dave got it",
              () => dave.inbox.some((m) => m.text === "traced hello"),
            );
          } finally {
            assert.equal(await alice.quit(), 0);
          }
          const lines = Deno.readTextFileSync(trace).trim().split("\n").map((l) => JSON.parse(l));
          const proof = lines.find((l) =>
            l.dir === "out" && JSON.parse(l.raw).type === "AUTH_PROOF"
          );
          assert.ok(proof, "the proof is traced");
          const challenge = lines.find((l) => l.dir === "in" && /AUTH_CHALLENGE/.test(l.raw));
          assert.match(challenge.reason, /AUTH_CHALLENGE \{challenge\}: 24 bytes signed/);
          assert.match(challenge.reason, /from "server_1" is not a UUID v4/);
          const dm = lines.find((l) => l.dir === "out" && /MSG_DIRECT/.test(l.raw));
          assert.match(dm.reason, /content_sig layout A/);
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", join(ROOT, "main.ts"), "replay", "--trace", trace],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.equal(out.code, 0);
          const text = new TextDecoder().decode(out.stdout);
          assert.match(text, /server→client AUTH_CHALLENGE server_1 → /);
          assert.match(text, /accepted: AUTH_CHALLENGE \{challenge\}: 24 bytes signed/);
          assert.match(text, /client→server AUTH_PROOF/);
          assert.match(text, /sent: MSG_DIRECT → /);
          assert.ok(!text.includes("traced hello"), "no plaintext in the trace");
        },
      );
    } finally {
      await server.stop();
    }
  },
});
