// Goal: the operator's commands on real processes: `identity` refuses a dir without an identity
// unless `--create` (which makes it 0700, the key 0600), `backup` copies a running server's log
// consistently (and never over a file), `--version` names the build, Deno and libcrypto, logs
// are JSON off a terminal and text with `--log-format text`, with one line per user, link and
// shutdown, and settings come from `--config` and `SOCP_*` variables, flags winning.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { BUILD } from "../actors/server/build.ts";
import {
  lines,
  makeDataDir,
  ROOT,
  startClientProcess,
  startServerProcess,
} from "./harness/processes.ts";

const MAIN = join(ROOT, "main.ts");

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Starts `serve` with `args` and `env`; resolves with its first stderr lines up to `until`. */
async function serveUntil(
  args: string[],
  env: Record<string, string>,
  until: (line: string) => boolean,
): Promise<{ lines: string[]; child: Deno.ChildProcess; rest: AsyncGenerator<string> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const seen: string[] = [];
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const rest = lines(child.stderr);
  for (let next = await rest.next(); !next.done; next = await rest.next()) {
    seen.push(next.value);
    if (until(next.value)) break;
  }
  clearTimeout(timer);
  return { lines: seen, child, rest };
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
}

Deno.test("identity refuses a dir without one; --create makes it (dir 0700, key 0600), then it is read", async () => {
  const root = await Deno.makeTempDir();
  const dir = join(root, "data");
  try {
    const none = await run(["identity", "--data-dir", dir]);
    assert.equal(none.code, 2);
    assert.match(none.stderr.trim(), /^".*\/data" holds no server identity .*add --create/);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
    const made = await run(["identity", "--data-dir", dir, "--create"]);
    assert.equal(made.code, 0, made.stderr);
    const id = JSON.parse(made.stdout);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(join(dir, "server_key.pem"))).mode! & 0o777, 0o600);
    const again = await run(["identity", "--data-dir", dir]);
    assert.equal(again.code, 0);
    assert.deepEqual(JSON.parse(again.stdout), id);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("backup copies a running server's log consistently, 0600, and never over a file", async () => {
  const dir = await makeDataDir("server3");
  const out = join(dir, "backup.sqlite");
  const server = await startServerProcess(dir);
  try {
    const alice = await startClientProcess(server.url, "alice", dir);
    await alice.quit();
    const r = await run(["backup", "--data-dir", dir, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^backed up .*socp\.sqlite to .*backup\.sqlite \(\d+ events, \d+ bytes\)/,
    );
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    const copy = new DatabaseSync(out);
    assert.equal(Object.values(copy.prepare("PRAGMA integrity_check").get()!)[0], "ok");
    const users = copy.prepare("SELECT COUNT(*) AS n FROM users").get() as { n: number };
    assert.equal(users.n, 1, "the registered user is in the copy");
    copy.close();
    const twice = await run(["backup", "--data-dir", dir, "--out", out]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr.trim(), /^".*backup\.sqlite" already exists: .*pass a new --out\.$/);
    const nothing = await run(["backup", "--data-dir", join(dir, "nope"), "--out", out + "2"]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /^No database at ".*nope\/socp\.sqlite"/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--version names the build, Deno and the libcrypto in use", async () => {
  const r = await run(["--version"]);
  assert.equal(r.code, 0);
  const [build, deno, libcrypto] = r.stdout.trim().split("\n");
  assert.equal(build, BUILD);
  assert.match(deno!, new RegExp(`^deno ${Deno.version.deno.replace(/\./g, "\\.")} `));
  assert.match(
    libcrypto!,
    /^libcrypto (OpenSSL \d+\.\d+\.\d+ \(.+\)|not loaded \(crypto backend: \w+\))$/,
  );
});

Deno.test("logs: JSON off a terminal, text with --log-format text; a line per user, link and shutdown", async () => {
  const dir = await makeDataDir("server3");
  const peerDir = await makeDataDir("server2");
  try {
    const json = await serveUntil(
      ["--port", "0", "--data-dir", dir],
      {},
      (l) => l.includes('"listening"'),
    );
    const listening = JSON.parse(json.lines.at(-1)!);
    assert.match(listening.browser, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const url = listening.url as string;
    // The page is ready at once: the bundle is built as `serve` starts.
    for (const path of ["/", "/app.js"]) {
      const page = await fetch(new URL(path, listening.browser));
      assert.equal(page.status, 200, path);
      assert.ok((await page.text()).length > 200, `${path} is not blank`);
    }
    const alice = await startClientProcess(url, "alice", dir);
    await alice.quit();
    // A second server joins through the first, then leaves: the link comes up and goes down.
    const pubkey = JSON.parse((await run(["identity", "--data-dir", dir])).stdout).pubkey;
    const boot = join(peerDir, "boot.yaml");
    const port = Number(new URL(url).port);
    await Deno.writeTextFile(
      boot,
      `bootstrap_servers:\n  - {host: 127.0.0.1, port: ${port}, pubkey: "${pubkey}"}\n`,
    );
    const peer = await startServerProcess(peerDir, ["--config", boot]);
    const seen = [...json.lines];
    const upTo = async (message: string) => {
      for (let next = await json.rest.next(); !next.done; next = await json.rest.next()) {
        seen.push(next.value);
        if (JSON.parse(next.value).message === message) return;
      }
      assert.fail(`no "${message}" line:\n${seen.join("\n")}`);
    };
    await upTo("link up");
    await peer.stop();
    await upTo("link down");
    await stop(json.child);
    for await (const line of json.rest) seen.push(line);
    const messages = seen.map((l) => JSON.parse(l).message);
    for (const m of ["user joined", "user left", "link up", "link down", "shut down"]) {
      assert.equal(messages.filter((x) => x === m).length, 1, `one "${m}" line`);
    }

    const text = await serveUntil(
      ["--port", "0", "--data-dir", dir, "--log-format", "text"],
      {},
      (l) => / listening /.test(l),
    );
    await stop(text.child);
    assert.match(
      text.lines.at(-1)!,
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}listening browser=http:\/\/127\.0\.0\.1:\d+\/ url=ws:/,
    );
    const bad = await run(["serve", "--log-format", "xml"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Invalid --log-format "xml": expected text or json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(peerDir, { recursive: true });
  }
});

Deno.test("--config holds settings (no bootstrap warning); SOCP_* variables override it; flags win", async () => {
  const dir = await makeDataDir("server3");
  const other = await makeDataDir("server3");
  try {
    const file = join(dir, "socp.yaml");
    await Deno.writeTextFile(file, `host: 127.0.0.2\nport: 0\ndata_dir: ${other}\n`);
    const started = await serveUntil(
      ["--config", file],
      { SOCP_HOST: "127.0.0.1", SOCP_DATA_DIR: dir },
      (l) => l.includes('"listening"'),
    );
    await stop(started.child);
    const listening = JSON.parse(started.lines.at(-1)!);
    assert.match(listening.url, /^ws:\/\/127\.0\.0\.1:\d+$/, "SOCP_HOST beats the file");
    assert.ok(
      !started.lines.some((l) => /bootstrap server\(s\)/.test(l)),
      started.lines.join("\n"),
    );
    await Deno.stat(join(dir, "identity.json")); // SOCP_DATA_DIR beats the file
    await assert.rejects(Deno.stat(join(other, "identity.json")), Deno.errors.NotFound);

    const flag = await run(["serve", "--config", file, "--port", "x"], { SOCP_PORT: "0" });
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /^Invalid --port "x"/, "the flag is read, not the variable");
    const env = await run(["serve", "--config", file], { SOCP_PORT: "70000" });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /^Invalid SOCP_PORT "70000": expected a number from 0 to 65535/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
