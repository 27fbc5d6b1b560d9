// Goal: configuration is validated at start: flags override the file, a bad key or value
// refuses with a clear error, and a short bootstrap list only warns.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildConfig, ConfigError, envOverrides } from "./config.ts";

const vectors = JSON.parse(
  Deno.readTextFileSync(join(import.meta.dirname!, "../../tests/vectors/socp-1.3-vectors.json")),
);
const KEY = vectors.key.public_spki_b64u as string;

Deno.test("buildConfig() reads bootstrap_servers and lets flags override the file", () => {
  const yaml =
    `host: 0.0.0.0\nport: 9000\nbootstrap_servers:\n  - host: "10.0.0.11"\n    port: 8765\n    pubkey: "${vectors.key.public_pem_b64u}"\n`;
  const { config, warnings } = buildConfig(yaml, { port: 9100 });
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.port, 9100);
  assert.equal(config.advertise_host, "127.0.0.1");
  assert.deepEqual(
    config.bootstrap_servers,
    [{ host: "10.0.0.11", port: 8765, pubkey: KEY }],
    "keys are pinned in normalised form",
  );
  assert.match(warnings.join(), /lists 1 bootstrap server\(s\); SOCP requires at least 3/);
});

Deno.test("buildConfig() refuses a bootstrap entry with a bad or weak key, naming it", () => {
  for (
    const [pubkey, why] of [["nonsense", /not a valid RSA public key/], [
      vectors.weak_public_keys_must_be_rejected.rsa1024,
      /1024 bits/,
    ]] as const
  ) {
    const yaml = `bootstrap_servers:\n  - {host: a, port: 1, pubkey: "${pubkey}"}\n`;
    assert.throws(
      () => buildConfig(yaml, {}),
      (e: unknown) =>
        e instanceof ConfigError &&
        /bootstrap_servers\[0\] \(a:1\) has a bad pubkey/.test(e.message) && why.test(e.message),
    );
  }
});

Deno.test("buildConfig() refuses unknown keys, bad YAML and impossible timings", () => {
  assert.throws(() => buildConfig("bootstrap_server: []", {}), ConfigError);
  assert.throws(() => buildConfig("port: [", {}), /not valid YAML/);
  assert.throws(() => buildConfig("port: 70000", {}), /"port"/);
  assert.throws(
    () => buildConfig("heartbeat_interval_ms: 500\nlink_timeout_ms: 400", {}),
    /must exceed/,
  );
});

Deno.test("buildConfig() defaults run with no configuration and say the server is an introducer", () => {
  const { config, warnings, notes } = buildConfig(undefined, {});
  assert.deepEqual(warnings, []);
  assert.equal(config.port, 8765);
  assert.equal(config.data_dir, "./data");
  assert.equal(config.join_policy, "open");
  assert.equal(config.heartbeat_interval_ms, 15_000);
  assert.equal(config.link_timeout_ms, 45_000);
  assert.match(notes.join(), /forms its own network/);
});

Deno.test("a settings file without bootstrap servers does not warn; SOCP_* variables are read", () => {
  const { config, warnings, notes } = buildConfig("port: 9000\nhost: 0.0.0.0\n", {});
  assert.deepEqual(warnings, []);
  assert.equal(config.port, 9000);
  assert.match(notes.join(), /forms its own network/);
  const env: Record<string, string> = {
    SOCP_PORT: "9001",
    SOCP_HOST: "127.0.0.1",
    SOCP_DATA_DIR: "/var/lib/socp",
    SOCP_ADVERTISE_PORT: "",
  };
  const overrides = envOverrides((name) => env[name]);
  assert.deepEqual(overrides, { port: 9001, host: "127.0.0.1", data_dir: "/var/lib/socp" });
  assert.equal(buildConfig("port: 9000\n", overrides).config.port, 9001);
  assert.throws(
    () => envOverrides((name) => name === "SOCP_ADVERTISE_PORT" ? "0" : undefined),
    (e: unknown) => e instanceof ConfigError && /Invalid SOCP_ADVERTISE_PORT "0"/.test(e.message),
  );
});
