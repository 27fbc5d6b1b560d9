// Goal: the browser client's protocol logic (web/src/session.ts) against a real server, run in
// Deno so it needs no browser: DMs, the public channel and a file between two sessions, trust on
// first use with a visible key-change warning that blocks sending until the new key is trusted,
// a USER_NOT_FOUND error in plain words, and reconnection after the server restarts. Also the
// server's HTTP routes for the page (GET /, /app.js, /app.css with a strict CSP; nothing else).
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { importPkcs8 } from "../web/src/rsa.ts";
import { ChatSession, type SessionEvent } from "../web/src/session.ts";
import { MapMemory } from "./harness/map_memory.ts";
import { CONTENT_SECURITY_POLICY } from "../actors/server/web_serve.ts";
import {
  eventually,
  fixtureKeyPath,
  freePort,
  makeDataDir,
  type ServerProcess,
  startServerProcess,
} from "./harness/processes.ts";
import { waitForEvent } from "./harness/events.ts";

async function pairOf(name: string) {
  const der = createPrivateKey(Deno.readTextFileSync(fixtureKeyPath(name))).export({
    type: "pkcs8",
    format: "der",
  });
  return await importPkcs8(new Uint8Array(der));
}

function user(
  url: string,
  name: string,
  pair: Awaited<ReturnType<typeof pairOf>>,
  memory = new MapMemory(),
) {
  const events: SessionEvent[] = [];
  const session = new ChatSession({
    url,
    user_id: crypto.randomUUID(),
    pair,
    display_name: name,
    memory,
    onEvent: (e) => events.push(e),
    backoffBaseMs: 200,
    backoffMaxMs: 1000,
  });
  const waitFor = <K extends SessionEvent["event"]>(
    kind: K,
    match?: (e: Extract<SessionEvent, { event: K }>) => boolean,
    what = kind as string,
  ) => waitForEvent(what === kind ? name : `${name} (${what})`, events, kind, match);
  return { session, events, memory, waitFor };
}

Deno.test({
  name: "web session: DM, public, file, key-change warning, plain errors, reconnection",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const port = freePort();
    const dir = await makeDataDir("server1");
    let server: ServerProcess = await startServerProcess(dir, [], port);
    const url = `ws://127.0.0.1:${port}/`;
    const [alicePair, bobPair, carolPair] = await Promise.all([
      pairOf("alice"),
      pairOf("bob"),
      pairOf("carol"),
    ]);
    const alice = user(url, "Alice", alicePair);
    const bob = user(url, "Bob", bobPair);
    try {
      // Alice "met" Bob before, with another key: the directory's key must raise a warning.
      await alice.memory.saveKnownKey({
        user_id: bob.session.user_id,
        spki: carolPair.publicKey.spki,
        fingerprint: carolPair.publicKey.fingerprint,
        label: "Bob",
        first_seen: 0,
      });
      alice.session.start();
      await alice.waitFor("connection", (e) => e.connection.state === "online", "online");
      bob.session.start();
      await bob.waitFor("connection", (e) => e.connection.state === "online", "online");
      assert.equal(alice.memory.pins.size, 1, "the server key is pinned");

      await t.step("a changed key is flagged, blocks sending, and can be trusted", async () => {
        const changed = await alice.waitFor("key_changed");
        assert.equal(changed.user_id, bob.session.user_id);
        assert.equal(changed.previous, carolPair.publicKey.fingerprint);
        assert.equal(changed.current, bobPair.publicKey.fingerprint);
        assert.ok(alice.session.contacts.get(bob.session.user_id)?.keyChanged);
        await assert.rejects(alice.session.sendDm(bob.session.user_id, "x"), /key changed/);
        assert.ok(
          alice.memory.keys.get(bob.session.user_id)?.changed,
          "the warning survives a reload",
        );
        await alice.session.trustNewKey(bob.session.user_id);
        assert.equal(alice.session.contacts.get(bob.session.user_id)?.keyChanged, undefined);
        assert.equal(alice.memory.keys.get(bob.session.user_id)?.spki, bobPair.publicKey.spki);
        // Bob had never seen Alice: first use, no warning.
        await bob.waitFor("contacts", () => bob.session.contacts.has(alice.session.user_id));
        assert.equal(bob.events.filter((e) => e.event === "key_changed").length, 0);
        assert.equal(bob.session.label(alice.session.user_id), "Alice");
      });

      await t.step(
        "DMs both ways, verified; a long one is split and arrives in order",
        async () => {
          await alice.session.sendDm(bob.session.user_id, "hello bob ✓");
          const dm = await bob.waitFor("dm");
          assert.deepEqual([dm.from, dm.text, dm.verified, dm.note], [
            alice.session.user_id,
            "hello bob ✓",
            true,
            undefined,
          ]);
          const long = "ü".repeat(400);
          assert.equal((await bob.session.sendDm(alice.session.user_id, long)).length, 2);
          await eventually(
            "two parts",
            () => alice.events.filter((e) => e.event === "dm").length === 2,
          );
          const parts = alice.events.filter((e) => e.event === "dm").map((e) =>
            e.event === "dm" && e.text
          );
          assert.equal(parts.join(""), long);
        },
      );

      await t.step("public channel and a file with matching SHA-256", async () => {
        const { sent } = await alice.session.sendPublic("hi all");
        assert.equal(sent, 1);
        const pub = await bob.waitFor("public");
        assert.deepEqual([pub.from, pub.text, pub.verified], [
          alice.session.user_id,
          "hi all",
          true,
        ]);
        const data = crypto.getRandomValues(new Uint8Array(446 * 70 + 5));
        await bob.session.sendFile(alice.session.user_id, "data.bin", data, () => {});
        const got = await alice.waitFor("file_received");
        assert.equal(got.verified, true);
        assert.deepEqual(got.data, data);
        const sha = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
          .map((b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(got.sha256, sha);
      });

      await t.step("an ERROR is reported in plain words", async () => {
        // A message for someone nobody knows.
        const ghost = crypto.randomUUID();
        const contact = alice.session.contacts.get(bob.session.user_id)!;
        alice.session.contacts.set(ghost, { ...contact, user_id: ghost });
        await alice.session.sendDm(ghost, "anyone?");
        const error = await alice.waitFor("error", (e) => e.code === "USER_NOT_FOUND");
        assert.match(error.sentence, /not online/);
        alice.session.contacts.delete(ghost);
        // A message for a known user who went offline: refused, or queued by servers that do.
        bob.session.stop();
        await alice.waitFor(
          "contacts",
          () => alice.session.contacts.get(bob.session.user_id)?.online === false,
        );
        const notFound = () =>
          alice.events.filter((e) => e.event === "error" && e.code === "USER_NOT_FOUND").length;
        const before = notFound();
        const [ref] = await alice.session.sendDm(bob.session.user_id, "are you there?");
        await eventually("refused or queued", () =>
          notFound() > before ||
          alice.events.some((e) =>
            e.event === "delivery" && e.msg_ref === ref && e.status === "queued"
          ));
      });

      await t.step("the session reconnects after the server restarts", async () => {
        const before = alice.events.length;
        await server.stop();
        await alice.waitFor("connection", (e) => e.connection.state === "waiting", "waiting");
        server = await startServerProcess(dir, [], port);
        await eventually(
          "online again",
          () =>
            alice.events.slice(before).some((e) =>
              e.event === "connection" && e.connection.state === "online"
            ),
          20_000,
        );
        assert.ok(
          !alice.events.some((e) => e.event === "warning" && /key changed/.test(e.message)),
        );
      });
    } finally {
      alice.session.stop();
      bob.session.stop();
      await server.stop();
    }
  },
});

Deno.test({
  name: "server serves the browser client: GET /, /app.js, /app.css with CSP; nothing else",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startServerProcess(await makeDataDir("server2"));
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const page = await fetch(`${base}/`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(page.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
      assert.match(CONTENT_SECURITY_POLICY, /^default-src 'self'; connect-src 'self' ws: wss:/);
      assert.equal(page.headers.get("x-content-type-options"), "nosniff");
      const html = await page.text();
      assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
      assert.doesNotMatch(html, /<script>|\sstyle="|\son\w+="/, "no inline script or style");
      const js = await fetch(`${base}/app.js`);
      assert.equal(js.status, 200);
      assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.equal(js.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY);
      const code = await js.text();
      assert.ok(code.length > 10_000 && code.length < 200_000, `bundle is ${code.length} bytes`);
      assert.doesNotMatch(code, /node:crypto|Deno\./, "browser code only");
      const css = await fetch(`${base}/app.css`);
      assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
      await css.body?.cancel();
      for (
        const path of ["/index.html", "/src/main.ts", "/serve.ts", "/../deno.json", "/app.js.map"]
      ) {
        const r = await fetch(`${base}${path}`);
        await r.body?.cancel();
        assert.equal(r.status, 404, path);
      }
      const post = await fetch(`${base}/`, { method: "POST", body: "x" });
      await post.body?.cancel();
      assert.equal(post.status, 404);
      const health = await fetch(`${base}/health`);
      assert.equal((await health.json()).status, "ok");
    } finally {
      await server.stop();
    }
  },
});
