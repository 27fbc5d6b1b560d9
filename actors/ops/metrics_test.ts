import assert from "node:assert/strict";
import { webCrypto } from "../../crypto/webcrypto.ts";
import {
  DROP_REASONS_MAX,
  frameTypeOf,
  Histogram,
  LabelledCounter,
  metered,
  Metrics,
  parsePrometheus,
  reasonBucket,
  renderPrometheus,
} from "./metrics.ts";
import { formatStatus, type ServerStatus } from "./status.ts";

Deno.test("frameTypeOf reads the type without parsing and keeps labels to protocol names", () => {
  assert.equal(frameTypeOf('{"type":"MSG_DIRECT","from":"a"}'), "MSG_DIRECT");
  assert.equal(frameTypeOf('{"type": "USER_HELLO", "from": "a"}'), "USER_HELLO");
  assert.equal(frameTypeOf('{"type":"NO_SUCH_TYPE_123"}'), "other");
  assert.equal(frameTypeOf("not json at all"), "unparsed");
  assert.equal(frameTypeOf(`{"type":"${"A".repeat(500)}"}`), "unparsed");
});

Deno.test("reasonBucket keeps the error code or the first plain words, never ids", () => {
  assert.equal(reasonBucket("USER_NOT_FOUND: user 1234 is not online"), "USER_NOT_FOUND");
  assert.equal(reasonBucket("TIMEOUT: rate limit"), "TIMEOUT");
  assert.equal(reasonBucket("rekey to version 3 is stale (now 4)"), "rekey_to_version");
  assert.equal(reasonBucket("link conn:3 has no accepted USER_HELLO for x"), "link");
  assert.equal(reasonBucket("not a public channel frame: ACK"), "not_a_public_channel");
  assert.equal(reasonBucket("1234 weird"), "other");
  assert.equal(reasonBucket(""), "other");
});

Deno.test("counters stay bounded however many distinct labels arrive", () => {
  const counter = new LabelledCounter(4);
  for (let i = 0; i < 1000; i++) counter.add(`label-${i}`);
  assert.equal(counter.entries().length, 5); // 4 labels + other
  assert.equal(counter.get("other"), 996);
  assert.equal(counter.total(), 1000);

  const metrics = new Metrics();
  for (let i = 0; i < 10_000; i++) {
    metrics.journaled({ kind: "frame", verdict: "dropped", reason: `reason${i} x` });
    metrics.journaled({ kind: "frame", verdict: "dropped", reason: `word${"x".repeat(i % 97)} y` });
    metrics.frameReceived(`{"type":"T${i}"}`);
  }
  assert.ok(metrics.drops.entries().length <= DROP_REASONS_MAX + 1);
  assert.deepEqual(metrics.framesReceived.entries(), [["other", 10_000]]);
});

Deno.test("histogram buckets are cumulative with +Inf", () => {
  const h = new Histogram([1, 2]);
  for (const v of [0.5, 1.5, 1.5, 3]) h.observe(v);
  assert.deepEqual(h.cumulative(), [["1", 1], ["2", 3], ["+Inf", 4]]);
  assert.equal(h.sum, 6.5);
});

Deno.test("metered counts each RSA operation, failures and latency", async () => {
  const metrics = new Metrics();
  const backend = metered(webCrypto, metrics);
  const key = await backend.importPrivate(
    await Deno.readTextFile(new URL("../../tests/fixtures/keys/alice.pem", import.meta.url)),
  );
  const data = new TextEncoder().encode("hello");
  const sig = await backend.sign(key, data);
  assert.equal(await backend.verify(key.publicKey, data, sig), true);
  assert.equal(await backend.verify(key.publicKey, new Uint8Array([1]), sig), false);
  const ct = await backend.encrypt(key.publicKey, data);
  assert.deepEqual(await backend.decrypt(key, ct), data);
  assert.equal((await backend.importPublic("garbage")).ok, false);
  assert.equal(backend.name, webCrypto.name);
  const c = metrics.crypto;
  assert.deepEqual(
    [
      c.sign.ops,
      c.verify.ops,
      c.verify.failed,
      c.encrypt.ops,
      c.decrypt.ops,
      c.import_public.failed,
    ],
    [1, 2, 1, 1, 1, 1],
  );
  assert.equal(c.sign.latency.count, 1);
  assert.ok(c.sign.latency.sum > 0);
});

Deno.test("the Prometheus text parses back, with escaped labels", () => {
  const metrics = new Metrics();
  metrics.frameReceived('{"type":"USER_HELLO"}');
  metrics.frameSent('{"type":"ACK"}');
  metrics.journaled({ kind: "frame", verdict: "dropped", reason: "BAD_KEY: nope" });
  metrics.journaled({ kind: "frame", verdict: "accepted", reason: "" });
  const text = renderPrometheus(metrics, {
    router_mailbox_depth: 3,
    outbox_depth_sum: 5,
    outbox_depth_max: 4,
    links: { user: 2, server: 1, pending: 0 },
    users_online: 2,
    users_remote: 7,
    users_registered: 9,
    servers_linked: 1,
    servers_known: 2,
    seen_ids: 11,
    public_channel_version: 4,
    resident_memory_bytes: 1e8,
    heap_used_bytes: 1e7,
    cpu_seconds: 1.25,
  }, 'build "1"\\x');
  const m = parsePrometheus(text);
  assert.equal(m.get('socp_frames_received_total{type="USER_HELLO"}'), 1);
  assert.equal(m.get('socp_frames_sent_total{type="ACK"}'), 1);
  assert.equal(m.get('socp_frames_dropped_total{reason="BAD_KEY"}'), 1);
  assert.equal(m.get('socp_router_inputs_total{kind="frame",verdict="accepted"}'), 1);
  assert.equal(m.get('socp_links{kind="server"}'), 1);
  assert.equal(m.get("socp_outbox_depth_max"), 4);
  assert.equal(m.get("socp_process_cpu_seconds_total"), 1.25);
  assert.equal(m.get('socp_build_info{build="build \\"1\\"\\\\x"}'), 1);
  for (const line of text.trimEnd().split("\n")) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{.*\})? -?[\d.e+]+)$/, line);
  }
});

Deno.test("formatStatus prints one row per known server", () => {
  const status: ServerStatus = {
    server_id: "me",
    build: "b",
    pid: 1,
    uptime_s: 75,
    users_online: 2,
    users_registered: 3,
    links: { user: 2, server: 1, pending: 0 },
    router_mailbox_depth: 0,
    public_channel_version: 1,
    servers: [
      {
        server_id: "s1",
        host: "127.0.0.1",
        port: 9,
        linked: true,
        direction: "outbound",
        link: "peer:1",
        last_frame_ms_ago: 1500,
        outbox_depth: 0,
        users: 4,
      },
      {
        server_id: "s2",
        host: "10.0.0.2",
        port: 8765,
        linked: false,
        backoff: { failures: 3, waiting: true },
        users: 0,
      },
    ],
  };
  const lines = formatStatus(status);
  assert.match(lines[0]!, /server me .*up 1m15s/);
  assert.match(lines.join("\n"), /s1\s+127\.0\.0\.1:9\s+up \(outbound\)\s+2s ago\s+0\s+-\s+4/);
  assert.match(
    lines.join("\n"),
    /s2\s+10\.0\.0\.2:8765\s+down\s+-\s+-\s+3 failed, retry scheduled\s+0/,
  );
});
