// Goal: limits and TLS come from the YAML file with defaults from limits.ts, are
// validated with a message naming the key, and TLS flags override the file.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildConfig, ConfigError } from "./config.ts";
import { DEFAULT_LIMITS } from "../../protocol/limits.ts";
import { peerUrl } from "./dial.ts";
import { LOCAL_USERS_MAX, USER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";

const vectors = JSON.parse(
  Deno.readTextFileSync(join(import.meta.dirname!, "../../tests/vectors/socp-1.3-vectors.json")),
);

Deno.test("limits default to limits.ts and may be set in the YAML file", () => {
  const none = buildConfig(undefined, {}).config;
  assert.deepEqual(none.limits, DEFAULT_LIMITS);
  assert.equal(none.limits.users_max, LOCAL_USERS_MAX);
  assert.equal(none.limits.user_frame_bytes_max, USER_FRAME_BYTES_MAX);
  assert.deepEqual(none.tls, {});
  const yaml = [
    "bootstrap_servers: []",
    "limits:",
    "  user_frames_per_s: 50",
    "  connections_per_ip: 4",
    "  users_max: 2",
    "  user_frame_bytes_max: 8192",
    "  burst_s: 0.5",
  ].join("\n");
  const { config } = buildConfig(yaml, {});
  assert.equal(config.limits.user_frames_per_s, 50);
  assert.equal(config.limits.connections_per_ip, 4);
  assert.equal(config.limits.users_max, 2);
  assert.equal(config.limits.user_frame_bytes_max, 8192);
  assert.equal(config.limits.burst_s, 0.5);
  assert.equal(config.limits.server_frames_per_s, DEFAULT_LIMITS.server_frames_per_s);
});

Deno.test("bad limits are refused, naming the key", () => {
  for (
    const [yaml, key] of [
      ["limits: {user_frames_per_s: 0}", /limits\.user_frames_per_s/],
      ["limits: {connections_per_ip: 1.5}", /limits\.connections_per_ip/],
      ["limits: {users_max: -1}", /limits\.users_max/],
      ["limits: {user_frame_bytes_max: 100}", /limits\.user_frame_bytes_max/],
      ["limits: {frames: 3}", /limits/],
      ["limits: {server_bytes_per_s: fast}", /limits\.server_bytes_per_s/],
    ] as const
  ) {
    assert.throws(
      () => buildConfig(yaml, {}),
      (e: unknown) => e instanceof ConfigError && key.test(e.message),
      yaml,
    );
  }
});

Deno.test("TLS: cert and key from the file or flags (flags win), never one without the other", () => {
  const yaml = `tls: {cert_file: a.pem, key_file: a.key, ca_file: ca.pem}`;
  assert.deepEqual(buildConfig(yaml, {}).config.tls, {
    cert_file: "a.pem",
    key_file: "a.key",
    ca_file: "ca.pem",
  });
  const flags = buildConfig(yaml, { tls_cert: "b.pem", tls_key: "b.key" }).config.tls;
  assert.equal(flags.cert_file, "b.pem");
  assert.equal(flags.key_file, "b.key");
  assert.throws(() => buildConfig("tls: {cert_file: a.pem}", {}), /both a certificate and a key/);
  assert.throws(() => buildConfig(undefined, { tls_key: "k" }), /both a certificate and a key/);
  assert.throws(() => buildConfig("tls: {verify: false}", {}), /tls/);
});

Deno.test("a bootstrap entry may ask for wss:// with tls: true", () => {
  const key = vectors.key.public_pem_b64u;
  const yaml =
    `bootstrap_servers:\n  - {host: a, port: 1, pubkey: "${key}", tls: true}\n  - {host: b, port: 2, pubkey: "${key}"}\n`;
  const [a, b] = buildConfig(yaml, {}).config.bootstrap_servers;
  assert.equal(a!.tls, true);
  assert.equal(b!.tls, undefined);
});

Deno.test("peerUrl: wss:// only for peers configured with tls: true; IPv6 in brackets", () => {
  const tlsPeers = new Set(["10.0.0.1:8765"]);
  assert.equal(peerUrl("10.0.0.1", 8765, { tlsPeers }), "wss://10.0.0.1:8765");
  assert.equal(peerUrl("10.0.0.1", 8766, { tlsPeers }), "ws://10.0.0.1:8766");
  assert.equal(peerUrl("10.0.0.2", 8765), "ws://10.0.0.2:8765");
  assert.equal(peerUrl("::1", 8765), "ws://[::1]:8765");
});
