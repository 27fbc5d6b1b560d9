// Goal: replay. A journal captured from a real interop session (the reference client,
// Python-style variants) re-runs offline, deterministically, to exactly the recorded events; the
// timeline says why each frame was accepted or dropped; --until, --filter, --json and --export
// work on it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, runReplay } from "../harness/processes.ts";

const FIXTURE = join(ROOT, "tests/replay/fixtures/interop_ref_client.sqlite");

async function copyOfFixture(): Promise<string> {
  // Replay opens the database read-write (migrations), so it works on a copy.
  const path = join(await Deno.makeTempDir(), "fixture.sqlite");
  await Deno.copyFile(FIXTURE, path);
  return path;
}

Deno.test("replay --check re-derives every verdict and event of the captured interop fixture", async () => {
  const r = await runReplay("--db", await copyOfFixture(), "--check");
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /replay --check: \d+ inputs re-run; every verdict and event matches the log/,
  );
});

Deno.test("replay explains what was accepted and why frames were dropped", async () => {
  const r = await runReplay("--db", await copyOfFixture());
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /USER_HELLO \S+ → server\n {4}accepted: user \S+ connected\n {4}events: UserRegistered, UserArrived, PublicChannelJoined/,
  );
  assert.match(
    r.stdout,
    /MSG_DIRECT \S+ → \S+\n {4}accepted: delivered to local user \S+\n {4}sent: USER_DELIVER → conn:2/,
  );
  assert.match(
    r.stdout,
    /DROPPED: INVALID_SIG: signature of LIST_REQUEST does not verify with your key/,
  );
  assert.match(
    r.stdout,
    /DROPPED: BAD_KEY: field "payload\.pubkey": RSA key is 1024 bits; SOCP requires 4096/,
  );
  assert.match(r.stdout, /REKEY\n {4}accepted: public channel at version \d+/);
});

Deno.test("replay --until, --filter and --json select and format steps", async () => {
  const db = await copyOfFixture();
  const json = await runReplay("--db", db, "--json");
  const steps = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(steps.length >= 8);
  assert.deepEqual(Object.keys(steps[0]).slice(0, 4), ["seq", "at", "link", "kind"]);
  const until = await runReplay("--db", db, "--json", "--until", "3");
  assert.deepEqual(until.stdout.trim().split("\n").map((l) => JSON.parse(l).seq), [1, 2, 3]);
  const filtered = await runReplay("--db", db, "--json", "--filter", "MSG_DIRECT");
  const types = filtered.stdout.trim().split("\n").map((l) => JSON.parse(l).type);
  assert.ok(types.length === 2 && types.every((t) => t === "MSG_DIRECT"));
});

Deno.test("replay --export writes a slice that replays on its own", async () => {
  const db = await copyOfFixture();
  const out = join(await Deno.makeTempDir(), "slice.sqlite");
  const exported = await runReplay("--db", db, "--export", "3..6", out);
  assert.equal(exported.code, 0, exported.stderr);
  assert.match(exported.stdout, /exported 4 journal rows/);
  const check = await runReplay("--db", out, "--check");
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /4 inputs re-run/);
});

Deno.test("replay --check fails, naming the row, when the log was tampered with", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  const db = await copyOfFixture();
  const sql = new DatabaseSync(db);
  sql.exec("UPDATE journal SET reason = 'something else' WHERE seq = 3");
  sql.close();
  const r = await runReplay("--db", db, "--check");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /divergence at journal row 3: verdict differs/);
});

Deno.test("replay refuses a missing database and bad options clearly", async () => {
  const missing = await runReplay("--db", "/nonexistent/x.sqlite");
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no database at/);
  // Like the other commands, replay reads ./data when given no data dir.
  const empty = await Deno.makeTempDir();
  const none = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "replay"],
    cwd: empty,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  assert.equal(none.code, 2);
  assert.match(new TextDecoder().decode(none.stderr), /no database at "data\/socp\.sqlite"/);
  await Deno.remove(empty);
});
