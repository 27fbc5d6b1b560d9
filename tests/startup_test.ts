// Goal: every start-up failure an operator can cause (a port in use, a data dir that cannot be
// written or is a file, a database that is not one, is truncated or has a corrupt page) ends a
// real `main.ts serve` process with one plain sentence naming the file or port and what to do,
// exit code 2, no stack trace, and the data dir exactly as it was: nothing created or changed,
// in particular no server key generated.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Store } from "../store/store.ts";
import type { RouterEvent } from "../store/events.ts";
import { makeDataDir, ROOT } from "./harness/processes.ts";

/** Runs `main.ts serve` that must exit (killed after 60 s if it starts serving instead). */
async function serve(...args: string[]): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "serve", "--host", "127.0.0.1", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Every path under `dir` with its kind, mode and SHA-256 (a missing dir is "absent"). */
async function snapshot(dir: string): Promise<string[]> {
  const rows: string[] = [];
  const walk = async (path: string, name: string) => {
    const info = await Deno.lstat(path);
    const mode = ((info.mode ?? 0) & 0o7777).toString(8);
    if (info.isDirectory) {
      rows.push(`${name}/ ${mode}`);
      for await (const entry of Deno.readDir(path)) {
        await walk(join(path, entry.name), `${name}/${entry.name}`);
      }
    } else {
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
      rows.push(
        `${name} ${mode} ${info.size} ${btoa(String.fromCharCode(...new Uint8Array(digest)))}`,
      );
    }
  };
  try {
    await walk(dir, ".");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return ["absent"];
    throw e;
  }
  return rows.sort();
}

/** Asserts one sentence (one line, no stack trace) matching `sentence`, and exit code 2. */
function assertRefused(r: { code: number; stderr: string }, sentence: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected:\n${r.stderr}`);
  assert.match(lines[0]!, sentence);
  assert.doesNotMatch(r.stderr, /^\s+at |\.ts:\d+:\d+/m, "no stack trace");
}

/** A real event log of `n` events, written by the Store. */
function writeLog(path: string, n: number): void {
  const store = Store.open(path);
  const events: RouterEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push({
      type: "UserRegistered",
      user_id: `user-${i}`,
      pubkey: `K-${i}-${"k".repeat(200)}`,
      meta: { display_name: `User ${i}` },
      at_ms: 1_760_000_000_000 + i,
    });
  }
  store.append(events);
  store.close();
}

/** Runs `check` against a data dir made by `make`, asserting the dir did not change. */
async function unchanged(
  make: (dir: string) => Promise<string>,
  check: (dataDir: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "socp-startup-" });
  try {
    const dataDir = await make(root);
    const before = await snapshot(dataDir);
    await check(dataDir);
    assert.deepEqual(await snapshot(dataDir), before, "the data dir changed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a port in use: one sentence naming the port, exit 2, no data dir or key created", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    await unchanged((root) => Promise.resolve(join(root, "data")), async (dataDir) => {
      const r = await serve("--port", String(port), "--data-dir", dataDir);
      assertRefused(
        r,
        new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is already in use .*pass another --port`),
      );
    });
  } finally {
    taken.close();
  }
});

Deno.test("a data dir that is a file: one sentence naming it, exit 2, file unchanged", async () => {
  await unchanged(async (root) => {
    const file = join(root, "data");
    await Deno.writeTextFile(file, "not a directory\n");
    return file;
  }, async (dataDir) => {
    const r = await serve("--port", "0", "--data-dir", dataDir);
    assertRefused(r, /^Data dir ".*\/data" is a file, not a directory: .*--data-dir/);
  });
});

Deno.test("an unwritable data dir: one sentence naming it, exit 2, nothing created", async () => {
  const root = Deno.uid() === 0;
  await unchanged(async (tmp) => {
    const dir = join(tmp, "data");
    await Deno.mkdir(dir);
    // Root writes through mode bits; an immutable directory refuses even root.
    if (root) {
      const out = await new Deno.Command("chattr", { args: ["+i", dir] }).output();
      assert.ok(out.success, "chattr +i is needed to make a directory unwritable for root");
    } else await Deno.chmod(dir, 0o500);
    return dir;
  }, async (dataDir) => {
    try {
      const r = await serve("--port", "0", "--data-dir", dataDir);
      assertRefused(r, /^Data dir ".*\/data" is not writable by this user .*fix its owner or mode/);
    } finally {
      if (root) await new Deno.Command("chattr", { args: ["-i", dataDir] }).output();
      else await Deno.chmod(dataDir, 0o700);
    }
  });
});

Deno.test("a file that is not a database: one sentence naming it, exit 2, key not used", async () => {
  await unchanged(async () => {
    const dir = await makeDataDir("server3");
    await Deno.writeTextFile(join(dir, "socp.sqlite"), "these are my notes, not a database\n");
    return dir;
  }, async (dataDir) => {
    const r = await serve("--port", "0", "--data-dir", dataDir);
    assertRefused(r, /^".*\/socp\.sqlite" is not an SQLite database: move it away .*backup/);
  });
});

Deno.test("a truncated database: one sentence naming it and its sizes, exit 2", async () => {
  await unchanged(async () => {
    const dir = await makeDataDir("server3");
    const db = join(dir, "socp.sqlite");
    writeLog(db, 2_000);
    const { size } = await Deno.stat(db);
    await Deno.truncate(db, Math.floor(size / 2));
    return dir;
  }, async (dataDir) => {
    const r = await serve("--port", "0", "--data-dir", dataDir);
    assertRefused(
      r,
      /^Database ".*\/socp\.sqlite" is truncated \(\d+ bytes, its header says \d+\): restore it from a backup/,
    );
  });
});

Deno.test("a corrupt page in the log: the server refuses to serve, names the file, replay --check and a backup", async () => {
  await unchanged(async () => {
    const dir = await makeDataDir("server3");
    const db = join(dir, "socp.sqlite");
    writeLog(db, 4_000);
    const { size } = await Deno.stat(db);
    const file = await Deno.open(db, { write: true });
    await file.seek(Math.floor(size / 2), Deno.SeekMode.Start);
    await file.write(crypto.getRandomValues(new Uint8Array(20 * 1024)));
    file.close();
    return dir;
  }, async (dataDir) => {
    const r = await serve("--port", "0", "--data-dir", dataDir);
    assertRefused(
      r,
      /^The event log ".*\/socp\.sqlite" is corrupt \(.+\), so the server will not serve from it: run `main\.ts replay --check --data-dir .+` .* restore it from a backup/,
    );
    // --check-db reads every page, and refuses too.
    const full = await serve("--port", "0", "--data-dir", dataDir, "--check-db");
    assertRefused(full, /is corrupt \(.+\), so the server will not serve from it/);
    // What the sentence points to says how far the log reads, without a stack trace.
    const replay = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "main.ts"), "replay", "--check", "--data-dir", dataDir],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const said = new TextDecoder().decode(replay.stderr);
    assert.equal(replay.code, 1, said);
    assert.match(said, /cannot be read after \d+ inputs \(.+\): the log is damaged/);
    assert.doesNotMatch(said, /^\s+at /m);
  });
});

Deno.test("a healthy log passes the check: the database is opened 0600, its -wal and -shm too", async () => {
  const dir = await makeDataDir("server3");
  try {
    const db = join(dir, "socp.sqlite");
    writeLog(db, 100);
    await Deno.chmod(db, 0o644); // as older builds left it
    const store = Store.open(db);
    for (const f of [db, `${db}-wal`, `${db}-shm`]) {
      assert.equal((await Deno.stat(f)).mode! & 0o777, 0o600, f);
    }
    store.close();
    const sql = new DatabaseSync(db);
    assert.equal(Object.values(sql.prepare("PRAGMA quick_check").get()!)[0], "ok");
    sql.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
