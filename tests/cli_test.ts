// Goal: the command-line contracts: every command has --help, bad input gives a clear error and
// a non-zero exit (never a stack trace), `identity` prints the data dir's id and key, and a bad
// bootstrap file refuses to start.
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeDataDir, ROOT } from "./harness/processes.ts";

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("every command answers --help with its usage and exit 0", async () => {
  for (const command of ["serve", "client", "identity", "replay"]) {
    const r = await run(command, "--help");
    assert.equal(r.code, 0, command);
    assert.match(r.stdout, /Usage:/, command);
  }
  const top = await run("--help");
  assert.equal(top.code, 0);
  assert.match(top.stdout, /serve/);
});

Deno.test("unknown commands and bad flags exit 2 with a clear message", async () => {
  const unknown = await run("frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown command "frobnicate"/);
  const flag = await run("serve", "--nope");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown option '--nope'/);
  const port = await run("serve", "--port", "http");
  assert.equal(port.code, 2);
  assert.match(port.stderr, /Invalid --port "http"/);
  assert.doesNotMatch(port.stderr + flag.stderr, /at .*\.ts:\d+/, "no stack traces");
});

Deno.test("identity prints the server id and base64url SPKI of a data dir, stable across runs", async () => {
  const dir = await makeDataDir("server3");
  const first = await run("identity", "--data-dir", dir);
  assert.equal(first.code, 0);
  const id = JSON.parse(first.stdout);
  assert.match(
    id.server_id,
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  );
  assert.match(id.pubkey, /^MIICIjANBgkq[A-Za-z0-9_-]+$/);
  assert.deepEqual(JSON.parse((await run("identity", "--data-dir", dir)).stdout), id);
  assert.equal((await Deno.stat(join(dir, "server_key.pem"))).mode! & 0o777, 0o600);
});

Deno.test("serve refuses a bootstrap file with a bad key, and a missing file, with exit 2", async () => {
  const dir = await makeDataDir("server3");
  const file = join(dir, "bad.yaml");
  await Deno.writeTextFile(
    file,
    'bootstrap_servers:\n  - {host: "127.0.0.1", port: 1, pubkey: "AAAA"}\n',
  );
  const bad = await run("serve", "--port", "0", "--data-dir", dir, "--bootstrap", file);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bootstrap_servers\[0\] \(127\.0\.0\.1:1\) has a bad pubkey/);
  const missing = await run(
    "serve",
    "--port",
    "0",
    "--data-dir",
    dir,
    "--bootstrap",
    join(dir, "nope.yaml"),
  );
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Cannot read bootstrap file/);
});
