// Goal: the client core's features over a real server, through the terminal session (the page
// runs the same core; tests/web_session_test.ts drives it there): a long message arrives whole
// and its sender sees its delivery state; a received file waits for acceptance; an offline user
// seen before is found by name; the encrypted history survives a reopen; a lost server is
// retried with backoff and the session comes back by itself.
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultBackend } from "../crypto/mod.ts";
import { systemClock, systemRandom } from "../lib/world.ts";
import { ChatSession, type ClientEvent } from "../client/session.ts";
import { KnownKeys } from "../client/known_keys.ts";
import { openHistoryFile } from "../client/history_file.ts";
import type { History } from "../client/core/history.ts";
import { waitForEvent } from "./harness/events.ts";
import {
  eventually,
  fixtureKeyPath,
  freePort,
  makeDataDir,
  type ServerProcess,
  startServerProcess,
} from "./harness/processes.ts";

const backend = defaultBackend();
/** Every user's events in the order they happened, to compare the two sides of a transfer. */
const timeline: { who: string; e: ClientEvent }[] = [];

async function user(url: string, name: string, dir: string, acceptFiles: boolean) {
  const key = await backend.importPrivate(await Deno.readTextFile(fixtureKeyPath(name)));
  const events: ClientEvent[] = [];
  const history: History = await openHistoryFile(join(dir, `${name}.history.json`), backend, key);
  const known = await KnownKeys.load(join(dir, `${name}.known.json`));
  const session = await ChatSession.connect({
    url,
    user_id: crypto.randomUUID(),
    key,
    backend,
    clock: systemClock,
    random: systemRandom,
    downloads: join(dir, "downloads", name),
    display_name: name,
    known,
    history,
    acceptFiles,
    onEvent: (e) => {
      events.push(e);
      timeline.push({ who: name, e });
    },
  });
  const waitFor = <K extends ClientEvent["event"]>(
    event: K,
    match?: (e: Extract<ClientEvent, { event: K }>) => boolean,
  ) => waitForEvent(name, events, event, match);
  return { session, events, waitFor, key, history };
}

Deno.test({
  name:
    "client core: whole long messages, delivery state, files on accept, names, history, reconnection",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const port = freePort();
    const dataDir = await makeDataDir("server1");
    let server: ServerProcess = await startServerProcess(dataDir, [], port);
    const dir = await Deno.makeTempDir({ prefix: "socp-core-" });
    const alice = await user(server.url, "alice", dir, true);
    const bob = await user(server.url, "bob", dir, false);
    const bobId = (await alice.waitFor("online", (e) => e.label === "bob")).user_id;
    try {
      await t.step(
        "a long message arrives as one; the sender sees it sent, then delivered",
        async () => {
          const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ") + " " +
            "é".repeat(300);
          await alice.session.tell("bob", long);
          const got = await bob.waitFor("message", (e) => e.direction === "in");
          assert.equal(got.text, long);
          assert.ok(got.parts >= 2, `${got.parts} parts`);
          assert.deepEqual([got.verified, got.missing, got.label], [true, [], "alice"]);
          assert.equal(bob.events.filter((e) => e.event === "dm").length, got.parts);
          const mine = await alice.waitFor("message", (e) => e.direction === "out");
          assert.deepEqual([mine.state, mine.to, mine.text], ["sent", bobId, long]);
          const delivered = await alice.waitFor(
            "message_state",
            (e) => e.msg_ref === mine.msg_ref && e.state === "delivered",
          );
          assert.equal(delivered.ts, mine.ts);
        },
      );

      await t.step("a received file is offered and saved only once accepted", async () => {
        const path = join(dir, "report.bin");
        const data = crypto.getRandomValues(new Uint8Array(5_000));
        await Deno.writeFile(path, data);
        await alice.session.sendFile("bob", path);
        const ready = await bob.waitFor("file_ready");
        assert.equal(ready.label, "alice");
        assert.ok(!bob.events.some((e) => e.event === "file_saved"), "not saved before accept");
        assert.deepEqual(bob.session.filesWaiting(), [ready.file_id]);
        assert.equal(bob.session.accept(ready.file_id), true);
        const saved = await bob.waitFor("file_saved");
        assert.deepEqual(await Deno.readFile(saved.path), data);
        assert.equal(bob.session.accept(ready.file_id), false, "handed out once");
        await alice.waitFor("progress", (e) => e.direction === "send" && e.bytes === data.length);
      });

      await t.step("the sender's progress is what the receiver has acknowledged", async () => {
        const path = join(dir, "big.bin");
        // Four windows and a bit: receipts for each window's end and for FILE_END.
        const data = new Uint8Array(4 * 64 * 446 + 1_000).map((_, i) => (i * 7919) % 251);
        await Deno.writeFile(path, data);
        const from = timeline.length;
        const sent = await alice.session.sendFile("bob", path);
        const ready = await bob.waitFor("file_ready", (e) => e.file_id === sent.file_id);
        await alice.waitFor(
          "progress",
          (e) => e.file_id === sent.file_id && e.bytes === data.length,
        );
        const log = timeline.slice(from);
        const at = (who: string, match: (e: ClientEvent) => boolean) =>
          log.findIndex((x) => x.who === who && match(x.e));
        const full = at("alice", (e) => e.event === "progress" && e.bytes === data.length);
        const whole = at("bob", (e) => e === ready);
        assert.ok(whole >= 0 && full > whole, "the sender's 100 % comes after the receiver has it");
        // Each report of the sender's is a window the receiver confirmed, never more than it got.
        const mine = log.filter((x) => x.who === "alice" && x.e.event === "progress");
        for (const { e } of mine) {
          const bytes = (e as { bytes: number }).bytes;
          assert.ok(bytes % (64 * 446) === 0 || bytes === data.length, `window end: ${bytes}`);
        }
        // Receipts come per window and at the end, not per chunk.
        const receipts = log.filter((x) =>
          x.who === "alice" && x.e.event === "delivery" && x.e.msg_ref.includes(bobId)
        );
        assert.ok(receipts.length <= 5, `${receipts.length} receipts for 239 chunks`);
        bob.session.accept(ready.file_id);
        await bob.waitFor("file_saved", (e) => e.file_id === ready.file_id);
      });

      await t.step(
        "an offline user seen before is found by name; the DM waits on the server",
        async () => {
          await bob.session.close();
          await alice.waitFor("offline", (e) => e.user_id === bobId);
          const users = await alice.session.users();
          assert.deepEqual(users.map((u) => [u.label, u.online]), [["bob", false]]);
          await alice.session.tell("bob", "see you later");
          const mine = await alice.waitFor("message", (e) => e.text === "see you later");
          await alice.waitFor(
            "message_state",
            (e) => e.msg_ref === mine.msg_ref && e.state === "queued",
          );
        },
      );

      await t.step("the history is encrypted at rest and survives a reopen", async () => {
        await alice.history.flushed();
        const file = join(dir, "alice.history.json");
        const stored = await Deno.readTextFile(file);
        assert.ok(!stored.includes("see you later"), "no plaintext at rest");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        const reopened = await openHistoryFile(file, backend, alice.key);
        assert.deepEqual(reopened.history(bobId, 10).map((e) => e.text.slice(0, 6)), [
          "w0 w1 ",
          "see yo",
        ]);
        assert.deepEqual((await alice.session.history("bob", 1)).map((e) => e.text), [
          "see you later",
        ]);
      });

      await t.step(
        "a lost server is retried with backoff, and the session comes back",
        async () => {
          await server.stop();
          const waiting = await alice.waitFor(
            "connection",
            (e) => e.connection.state === "waiting",
          );
          assert.ok(waiting.connection.state === "waiting" && waiting.connection.retry_at > 0);
          server = await startServerProcess(dataDir, [], port);
          const readies = () => alice.events.filter((e) => e.event === "ready").length;
          await eventually("alice back online", () => readies() === 2, 30_000);
          assert.ok(!alice.events.some((e) => e.event === "closed"), "the client did not exit");
        },
      );
    } finally {
      await alice.session.close();
      await bob.session.close();
      await server.stop();
    }
  },
});
