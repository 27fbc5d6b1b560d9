// Goal: observability, on real server processes: GET /metrics counters move with
// traffic (frames by type, drops by reason, crypto operations, users online), GET /status shows
// peers and link state, and `main.ts status` prints it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePrometheus } from "../actors/ops/metrics.ts";
import { fixtureKeyPem, RefClient } from "./independent/ref_client.ts";
import {
  eventually,
  fixturePubkey,
  makeDataDir,
  ROOT,
  startServerProcess,
  writeBootstrap,
} from "./harness/processes.ts";

async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

async function status(port: number): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}/status`);
  assert.equal(response.status, 200);
  return await response.json();
}

const delta = (after: Map<string, number>, before: Map<string, number>, key: string) =>
  (after.get(key) ?? 0) - (before.get(key) ?? 0);

Deno.test({
  name: "GET /metrics: frames by type, drops, crypto ops and users online move with traffic",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server1");
    const server = await startServerProcess(dataDir);
    const clients: RefClient[] = [];
    try {
      const before = await scrape(server.port);
      assert.equal(before.get("socp_users_online"), 0);
      assert.equal(before.get('socp_links{kind="user"}'), 0);

      const open = async (name: string) => {
        const c = await RefClient.connect({
          url: server.url,
          privateKeyPem: fixtureKeyPem(name),
          name,
        });
        clients.push(c);
        return c;
      };
      const alice = await open("alice");
      const bob = await open("bob");
      await alice.next((f) => f.type === "USER_ADVERTISE" && f.payload?.user_id === bob.userId);
      const DMS = 3;
      for (let i = 0; i < DMS; i++) {
        await alice.sendDirect(bob.userId, bob.pubkeyText(), `hello ${i}`);
        const delivered = await bob.next("USER_DELIVER");
        assert.equal(bob.openDeliver(delivered).plaintext, `hello ${i}`);
      }
      // A bad frame (not JSON) and a DM to nobody: both refused with a reason.
      alice.sendRaw("this is not json");
      await alice.next("ERROR");
      await alice.sendDirect(crypto.randomUUID(), bob.pubkeyText(), "to nobody");
      const notFound = await alice.next("ERROR");
      assert.equal(notFound.payload?.code, "USER_NOT_FOUND");

      let after = await scrape(server.port);
      // Links post to the Router asynchronously: wait for the last refusal to be journaled.
      await eventually("drops counted", async () => {
        after = await scrape(server.port);
        return delta(after, before, 'socp_frames_dropped_total{reason="USER_NOT_FOUND"}') === 1;
      }, 10_000);

      assert.equal(delta(after, before, 'socp_frames_received_total{type="USER_HELLO"}'), 2);
      assert.equal(delta(after, before, 'socp_frames_received_total{type="MSG_DIRECT"}'), DMS + 1);
      assert.equal(delta(after, before, 'socp_frames_received_total{type="unparsed"}'), 1);
      assert.equal(delta(after, before, 'socp_frames_sent_total{type="USER_DELIVER"}'), DMS);
      assert.ok(delta(after, before, 'socp_frames_sent_total{type="ACK"}') >= 2);
      assert.ok(delta(after, before, 'socp_frames_sent_total{type="USER_ADVERTISE"}') >= 3);
      assert.ok(delta(after, before, 'socp_frames_sent_total{type="ERROR"}') >= 2);
      // The unparsable frame is refused by the link with a standard code; the DM by the Router.
      const dropped = [...after].filter(([k]) => k.startsWith("socp_frames_dropped_total"));
      assert.equal(dropped.reduce((sum, [, n]) => sum + n, 0), 2, JSON.stringify(dropped));
      assert.ok(
        delta(after, before, 'socp_router_inputs_total{kind="frame",verdict="dropped"}') >= 2,
      );
      assert.ok(
        delta(after, before, 'socp_router_inputs_total{kind="frame",verdict="accepted"}') >=
          2 + DMS,
      );

      // One signature per USER_DELIVER at least; the RefClient signs its frames, so each verifies.
      assert.ok(delta(after, before, 'socp_crypto_ops_total{op="sign"}') >= DMS);
      assert.ok(delta(after, before, 'socp_crypto_ops_total{op="verify"}') >= DMS);
      assert.equal(delta(after, before, 'socp_crypto_failures_total{op="verify"}'), 0);
      assert.ok(delta(after, before, 'socp_crypto_ops_total{op="import_public"}') >= 2);
      const signs = after.get('socp_crypto_op_duration_seconds_count{op="sign"}')!;
      assert.equal(signs, after.get('socp_crypto_ops_total{op="sign"}'));
      assert.equal(after.get('socp_crypto_op_duration_seconds_bucket{op="sign",le="+Inf"}'), signs);
      assert.ok(after.get('socp_crypto_op_duration_seconds_sum{op="sign"}')! > 0);

      assert.equal(after.get("socp_users_online"), 2);
      assert.equal(after.get('socp_links{kind="user"}'), 2);
      assert.equal(after.get("socp_router_mailbox_depth"), 0);
      assert.ok(after.has("socp_outbox_depth_sum") && after.has("socp_outbox_depth_max"));
      assert.ok(after.get("socp_process_resident_memory_bytes")! > 1e6);

      const health = await (await fetch(`http://127.0.0.1:${server.port}/health`)).json();
      assert.equal(health.status, "ok");
    } finally {
      for (const c of clients) c.terminate();
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "GET /status and `main.ts status`: peers, link state, last frame and users per server",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dirA = await makeDataDir("server1");
    const dirB = await makeDataDir("server2");
    const a = await startServerProcess(dirA);
    const bootstrap = await writeBootstrap(dirB, [
      { host: "127.0.0.1", port: a.port, pubkey: await fixturePubkey("server1") },
    ]);
    const b = await startServerProcess(dirB, ["--bootstrap", bootstrap]);
    const clients: RefClient[] = [];
    try {
      clients.push(
        await RefClient.connect({ url: b.url, privateKeyPem: fixtureKeyPem("carol"), name: "c" }),
      );
      let s: Record<string, unknown> = {};
      await eventually("A sees B linked with its user", async () => {
        s = await status(a.port);
        const peers = s.servers as Record<string, unknown>[];
        return peers.length === 1 && peers[0]!.linked === true && peers[0]!.users === 1;
      });
      assert.equal(s.server_id, a.server_id);
      const peer = (s.servers as Record<string, unknown>[])[0]!;
      assert.equal(peer.server_id, b.server_id);
      assert.equal(peer.port, b.port);
      assert.ok(peer.direction === "inbound" || peer.direction === "outbound");
      assert.ok(typeof peer.last_frame_ms_ago === "number" && peer.last_frame_ms_ago < 10_000);
      assert.equal((s.links as Record<string, number>).server, 1);

      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "main.ts"), "status", "--port", String(a.port)],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.match(text, new RegExp(`server ${a.server_id}`));
      assert.match(text, /1\/1 known servers linked/);
      assert.match(text, new RegExp(`${b.server_id}\\s+127\\.0\\.0\\.1:${b.port}\\s+up \\(`));

      // B's metrics count what it receives from A over their link: a user joining A makes A
      // send B a USER_ADVERTISE at once (nothing here waits for a heartbeat).
      clients.push(
        await RefClient.connect({ url: a.url, privateKeyPem: fixtureKeyPem("dave"), name: "d" }),
      );
      await eventually("B counted frames from A", async () => {
        const m = await scrape(b.port);
        return (m.get('socp_frames_received_total{type="USER_ADVERTISE"}') ?? 0) >= 1 &&
          m.get("socp_servers_linked") === 1 && m.get('socp_links{kind="server"}') === 1 &&
          m.get("socp_users_online") === 1;
      });

      // An unreachable server: exit code 1 and a clear message.
      const down = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "main.ts"), "status", "--url", "http://127.0.0.1:1"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(down.code, 1);
      assert.match(
        new TextDecoder().decode(down.stderr),
        /Cannot read http:\/\/127\.0\.0\.1:1\/status/,
      );
    } finally {
      for (const c of clients) c.terminate();
      await b.stop();
      await a.stop();
      await Deno.remove(dirA, { recursive: true }).catch(() => {});
      await Deno.remove(dirB, { recursive: true }).catch(() => {});
    }
  },
});
