// Goal: every limit answers with a standard ERROR whose detail names the limit, is
// journaled, and protects everyone else: a flooding user is paced, then refused, then closed;
// a legitimate file-transfer burst passes untouched; sizes, connections per address and users
// per server are configurable; a reader that stops reading is cut off instead of buffered; and
// repeated bad signatures close the link, on user and server links alike.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import WebSocket from "ws";
import { EvilServer } from "./harness/evil_server.ts";
import { assertReplayMatches, eventually } from "./harness/processes.ts";
import { startInProcess } from "./harness/in_process.ts";
import {
  fixtureKeyPem,
  type Frame,
  newUserId,
  publicKeyText,
  RefClient,
  RefClientError,
} from "./independent/ref_client.ts";
import { createPrivateKey } from "node:crypto";
import { FILE_WINDOW_CHUNKS } from "../protocol/limits.ts";

const code = (f: Frame) => (f.payload as { code?: string } | undefined)?.code;
const detail = (f: Frame) => String((f.payload as { detail?: string } | undefined)?.detail ?? "");
const b64u = (n: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("base64url");

async function chatting(url: string) {
  const alice = await RefClient.connect({
    url,
    privateKeyPem: fixtureKeyPem("alice"),
    displayName: "alice",
  });
  const bob = await RefClient.connect({
    url,
    privateKeyPem: fixtureKeyPem("bob"),
    displayName: "bob",
  });
  await eventually("alice knows bob", () => alice.directory.has(bob.userId));
  return {
    alice,
    bob,
    /** Alice's DM reaches Bob intact. */
    async stillServing(text: string) {
      await alice.sendDirect(bob.userId, undefined, text);
      const got = bob.openDeliver(await bob.next((f) => f.type === "USER_DELIVER"));
      assert.equal(got.plaintext, text);
    },
  };
}

/** A file-chunk frame from `from` to `to` with a random ciphertext of `bytes` bytes. */
function chunk(from: string, to: string, index: number, bytes = 512): string {
  return JSON.stringify({
    type: "FILE_CHUNK",
    from,
    to,
    ts: Date.now(),
    payload: { file_id: "f-1", index, ciphertext: b64u(bytes) },
    sig: "",
  });
}

Deno.test({
  name: "a flooding user is paced, refused with ERROR TIMEOUT naming the limit, then closed (1008)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const s = await startInProcess({
      limits: {
        user_frames_per_s: 20,
        user_bytes_per_s: 50_000,
        burst_s: 1,
        user_frame_bytes_max: 8192,
      },
    });
    const { alice, bob, stillServing } = await chatting(s.url);
    const clients: RefClient[] = [alice, bob];
    try {
      await t.step("frames per second", async () => {
        const flood = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("eve") });
        clients.push(flood);
        const list = JSON.stringify(flood.frame("LIST_REQUEST", "server", {}, { sign: false }));
        for (let i = 0; i < 400; i++) flood.sendRaw(list);
        const err = await flood.next("ERROR");
        assert.equal(code(err), "TIMEOUT");
        assert.match(
          detail(err),
          /^rate limit: user links may send 20 frames\/s and 50000 bytes\/s/,
        );
        assert.match(detail(err), /frames \(\d+ bytes\) already wait their turn; frame dropped/);
        const closed = await flood.closed;
        assert.equal(closed.code, 1008);
        assert.match(closed.reason, /too many bad frames/);
        const lists = flood.received.filter((f) => f.type === "LIST_RESPONSE").length;
        assert.ok(lists >= 10 && lists < 400, `the burst was served, not the flood (${lists})`);
        await stillServing("after a frame flood");
      });

      await t.step("bytes per second", async () => {
        const big = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("dave") });
        clients.push(big);
        // 30 frames of ~5.5 KB at once: 50 KB pass or wait, the rest is refused; fewer than
        // 20 refusals, so the link stays open.
        for (let i = 0; i < 30; i++) big.sendRaw(chunk(big.userId, bob.userId, i, 4000));
        const err = await big.next("ERROR");
        assert.equal(code(err), "TIMEOUT");
        assert.match(detail(err), /rate limit: .*50000 bytes\/s/);
        await eventually(
          "the waiting chunks are delivered, paced",
          () => bob.received.filter((f) => f.type === "FILE_CHUNK").length >= 9,
        );
        assert.equal(big.isOpen, true);
        bob.drain("FILE_CHUNK");
      });

      await t.step(
        "a frame over the configured user size is refused and closed (1009)",
        async () => {
          const c = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("carol") });
          clients.push(c);
          c.sendRaw(chunk(c.userId, bob.userId, 0, 7000));
          const err = await c.next("ERROR");
          assert.equal(code(err), "BAD_KEY");
          assert.match(detail(err), /larger than 8192 bytes/);
          assert.equal((await c.closed).code, 1009);
        },
      );

      await t.step("repeated bad signatures close a user link", async () => {
        const m = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("carol") });
        clients.push(m);
        const forged = { ...m.frame("LIST_REQUEST", "server", {}), sig: alice.frame("X", "y").sig };
        // Paced at 20 frames/s: the twentieth bad signature closes the link.
        for (let i = 0; i < 20; i++) m.send(forged);
        const err = await m.next("ERROR");
        assert.equal(code(err), "INVALID_SIG");
        const closed = await m.closed;
        assert.equal(closed.code, 1008);
        assert.match(closed.reason, /too many bad frames/);
        assert.equal(m.received.filter((f) => code(f) === "INVALID_SIG").length, 20);
        await stillServing("after forged signatures");
      });

      await t.step("refusals are journaled with the limit, and replay agrees", async () => {
        const reasons = s.droppedReasons();
        assert.ok(
          reasons.some((r) => /^TIMEOUT: rate limit: user links may send 20 frames\/s/.test(r)),
        );
        assert.ok(reasons.some((r) => /larger than 8192 bytes/.test(r)));
        await assertReplayMatches(s.dataDir);
      });
    } finally {
      for (const c of clients) c.terminate();
      await s.close();
    }
  },
});

Deno.test({
  name: "with the default limits, file-transfer windows pass in full (shaped, never refused)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await startInProcess();
    const { alice, bob } = await chatting(s.url);
    try {
      // 24 windows of 64 chunks (~900-byte frames) as fast as the socket takes them, each window
      // followed by a round trip: more than the burst, so the later windows are paced.
      const windows = 24;
      for (let w = 0; w < windows; w++) {
        for (let i = 0; i < FILE_WINDOW_CHUNKS; i++) {
          alice.sendRaw(chunk(alice.userId, bob.userId, w * FILE_WINDOW_CHUNKS + i));
        }
        await alice.list(15_000);
      }
      const total = windows * FILE_WINDOW_CHUNKS;
      await eventually(
        `bob has all ${total} chunks`,
        () => bob.received.filter((f) => f.type === "FILE_CHUNK").length === total,
      );
      assert.equal(alice.received.filter((f) => f.type === "ERROR").length, 0);
      assert.equal(s.droppedReasons().filter((r) => r.startsWith("TIMEOUT")).length, 0);
    } finally {
      alice.terminate();
      bob.terminate();
      await s.close();
    }
  },
});

Deno.test({
  name:
    "connections per address are limited (HTTP 429, journaled), and users per server (NAME_IN_USE)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await startInProcess({ limits: { connections_per_ip: 3, users_max: 2 } });
    const { alice, bob } = await chatting(s.url);
    const extra: RefClient[] = [];
    try {
      const third = await RefClient.open({ url: s.url, privateKeyPem: fixtureKeyPem("carol") });
      extra.push(third);
      await assert.rejects(
        RefClient.open({ url: s.url, privateKeyPem: fixtureKeyPem("carol") }),
        (e: unknown) => e instanceof RefClientError && /HTTP 429/.test(e.message),
      );
      assert.ok(
        s.droppedReasons().some((r) =>
          r === "TIMEOUT: connection limit: 3 connections from 127.0.0.1 are open (limit 3)"
        ),
      );
      third.terminate();
      // The slot frees once the server sees the close; the third user then finds the server full.
      let carol: RefClient | undefined;
      await eventually("a slot frees", async () => {
        try {
          carol = await RefClient.open({ url: s.url, privateKeyPem: fixtureKeyPem("carol") });
          return true;
        } catch {
          return false;
        }
      });
      extra.push(carol!);
      await assert.rejects(
        carol!.hello(),
        (e: unknown) =>
          e instanceof RefClientError && e.code === "NAME_IN_USE" &&
          /this server is full \(2 users\)/.test(detail(e.frame!)),
      );
      assert.equal((await carol!.closed).code, 1008);
    } finally {
      for (const c of [alice, bob, ...extra]) c.terminate();
      await s.close();
    }
  },
});

Deno.test({
  name: "a user that stops reading is cut off (bounded outbox) instead of growing memory",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Limits high enough that the sender is not the one stopped.
    const s = await startInProcess({
      limits: { user_frames_per_s: 100_000, user_bytes_per_s: 1e9 },
    });
    const { alice, bob } = await chatting(s.url);
    const slowId = newUserId();
    const slow = new WebSocket(s.url, { perMessageDeflate: false });
    try {
      await new Promise((resolve, reject) => {
        slow.once("open", resolve);
        slow.once("error", reject);
      });
      const acked = new Promise((resolve) => slow.once("message", resolve));
      slow.send(JSON.stringify({
        type: "USER_HELLO",
        from: slowId,
        to: "server",
        ts: Date.now(),
        payload: {
          client: "never-reads",
          pubkey: publicKeyText(createPrivateKey(fixtureKeyPem("carol")), "pem"),
        },
        sig: "",
      }));
      await acked;
      await eventually(
        "alice sees the slow user",
        () => alice.directory.get(slowId)?.online === true,
      );
      // Stop reading: the kernel buffers fill, then the server's socket buffer, then the link.
      (slow as unknown as { _socket: { pause(): void } })._socket.pause();
      const before = Deno.memoryUsage().rss;
      let sent = 0;
      const removed = () =>
        alice.received.some((f) => f.type === "USER_REMOVE" && f.payload?.user_id === slowId);
      // ~8 KB frames, in windows with a round trip, until the server gives up on the reader
      // (at most 64 MB: far beyond the 32 MiB a link may hold unsent).
      for (let w = 0; w < 128 && !removed(); w++) {
        for (let i = 0; i < FILE_WINDOW_CHUNKS; i++) {
          alice.sendRaw(chunk(alice.userId, slowId, sent++, 6000));
        }
        // Once the reader is cut off, the chunks are answered USER_NOT_FOUND instead.
        await alice.list(15_000).catch(() => {});
      }
      await eventually("the slow user is removed", removed);
      assert.ok(
        s.closeReasons().some((r) => /outbox full .*slow consumer/.test(r)),
        s.closeReasons().join(" | "),
      );
      const grownMb = (Deno.memoryUsage().rss - before) / 2 ** 20;
      assert.ok(grownMb < 200, `memory grew ${grownMb.toFixed(0)} MB`);
      assert.ok(!s.server.router.state.local_users.has(slowId));
      // Everyone else is served as before.
      await alice.sendDirect(bob.userId, undefined, "still here");
      assert.equal(
        bob.openDeliver(await bob.next((f) => f.type === "USER_DELIVER")).plaintext,
        "still here",
      );
    } finally {
      slow.terminate();
      alice.terminate();
      bob.terminate();
      await s.close();
    }
  },
});

Deno.test({
  name: "repeated bad signatures close a server link",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await startInProcess();
    const evil = new EvilServer(crypto.randomUUID(), "server4");
    const eve = createPrivateKey(fixtureKeyPem("eve"));
    try {
      await evil.link(s.url, s.server.server_id);
      await eventually("the peer is linked", () => s.server.router.state.servers.has(evil.id));
      for (let i = 0; i < 20; i++) {
        evil.send(evil.frame("USER_ADVERTISE", "*", {
          user_id: `u-${i}`,
          server_id: evil.id,
          meta: {},
        }, { signer: eve }));
      }
      await eventually("the link is closed", () => !s.server.router.state.servers.has(evil.id));
      const errors = evil.received.filter((f) => code(f) === "INVALID_SIG");
      assert.ok(errors.length >= 19, `${errors.length} INVALID_SIG answers`);
      assert.match(detail(errors[0]!), /does not verify with the pinned key/);
    } finally {
      evil.close();
      await s.close();
    }
  },
});
