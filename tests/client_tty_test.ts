// Goal: the terminal client as a person uses it, through a real pseudo-terminal against a real
// server: the passphrase is never echoed, a new keystore refuses a short passphrase and a repeat
// that differs, typed text is shown as it is typed, both sides of a conversation appear with
// local HH:MM times and our message's delivery state, a long message arrives as one line, a file
// is offered and saved only on /accept, /history shows the conversation after a client restart
// (from the encrypted local history), and when the server stops and comes back
// on the same port and data dir the client says it is reconnecting, reconnects by itself, and
// the next message goes through. Backoff is kept short with --reconnect-delay; every wait is
// bounded. A `--json` client ends with the connection, as scripts expect, unless `--reconnect`.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  fixtureKeyPath,
  freePort,
  makeDataDir,
  ROOT,
  type ServerProcess,
  startClientProcess,
  startServerProcess,
} from "./harness/processes.ts";
import { type PtyProcess, startPtyClient } from "./harness/pty.ts";

/** An environment variable that is never set, so the client must ask for the passphrase. */
const NO_ENV = "SOCP_TTY_TEST_NO_PASSPHRASE";

function clientArgs(url: string, dir: string, name: string): string[] {
  return [
    "--server",
    url,
    "--name",
    name,
    "--keystore",
    join(dir, `${name}.json`),
    "--import-key",
    fixtureKeyPath(name),
    "--downloads",
    join(dir, "downloads", name),
    "--passphrase-env",
    NO_ENV,
    "--reconnect-delay",
    "100,400",
  ];
}

/** Answers the new-keystore prompts with `passphrase` and waits for the connection. */
async function createAndConnect(client: PtyProcess, passphrase: string): Promise<void> {
  await client.waitFor(/New passphrase \(not shown\): ?$/);
  await client.type(passphrase + "\r");
  await client.waitFor(/Repeat it: ?$/);
  await client.type(passphrase + "\r");
  await client.waitFor(/\d\d:\d\d \* connected/, 30_000);
}

Deno.test({
  name: "terminal client on a pty: hidden passphrase, line editing, times, reconnection",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dataDir = await makeDataDir("server1");
    const clientDir = await Deno.makeTempDir({ prefix: "socp-tty-" });
    const port = freePort();
    let server: ServerProcess | undefined = await startServerProcess(dataDir, [], port);
    const alice = startPtyClient(clientArgs(server.url, clientDir, "alice"));
    const bob = startPtyClient(clientArgs(server.url, clientDir, "bob"));
    try {
      await t.step("the passphrase is asked twice and never shown", async () => {
        await createAndConnect(alice, "alice's secret words");
        await createAndConnect(bob, "bob's secret words");
        for (const c of [alice, bob]) assert.doesNotMatch(c.raw(), /secret words/);
      });

      await t.step("typed text is shown; both sides appear with times and state", async () => {
        await bob.waitFor(/\* alice is online/);
        await bob.type("/tell alice hello from bob");
        // Shown while typed, before Enter.
        await bob.waitFor(/> \/tell alice hello from bob$/);
        await bob.type("\r");
        await bob.waitFor(/\d\d:\d\d me → alice: hello from bob {2}✓ delivered/);
        await alice.waitFor(/\d\d:\d\d bob: hello from bob/);
        await alice.type("/tell bob hi bob\r");
        await alice.waitFor(/\d\d:\d\d me → bob: hi bob {2}(… sent|✓ delivered)/);
        await bob.waitFor(/\d\d:\d\d alice: hi bob/);
        await bob.type("/list\r");
        await bob.waitFor(/online \(2\):\n {2}alice\n {2}bob/);
      });

      await t.step("a long message arrives whole, as one line, on both sides", async () => {
        const long = Array.from({ length: 160 }, (_, i) => `word${i}`).join(" ");
        const mark = (await alice.lines()).length - 1;
        await bob.type(`/tell alice ${long}\r`);
        await alice.waitFor(/word159$/m, 20_000, mark);
        await bob.waitFor(/word159 {2}✓ delivered/, 20_000);
        // One line each: the whole text after the time and the name, with no part headers.
        const one = (lines: string[], head: RegExp) =>
          lines.filter((l) => l.includes("word0 ")).filter((l) => head.test(l) && l.includes(long));
        assert.equal(one(await alice.lines(), /^\d\d:\d\d bob: word0 /).length, 1);
        // Ours too (its state may come on a line of its own once it no longer fits in place).
        const mine = one(await bob.lines(), /^\d\d:\d\d me → alice: word0 /);
        assert.match(mine.at(-1)!, /word159 {2}✓ delivered$/);
        assert.equal((await alice.lines()).filter((l) => l.includes("word0 ")).length, 1);
        assert.doesNotMatch(alice.raw(), /\[\d+\/\d+ #[0-9a-f]+\]/);
      });

      await t.step(
        "a file: offered by name, saved on /accept, the bar leaves nothing behind",
        async () => {
          const file = join(clientDir, "notes.bin");
          await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(60_000)));
          const mark = (await alice.lines()).length - 1;
          await bob.type(`/file alice ${file}\r`);
          await alice.waitFor(/\d\d:\d\d \* bob is sending notes\.bin \(58\.6 KiB\)/, 15_000, mark);
          await alice.waitFor(
            /↓ notes\.bin \[#{24}\] 100% 58\.6 KiB\/58\.6 KiB .* received/,
            30_000,
            mark,
          );
          const ready = await alice.waitFor(/\* bob's file notes\.bin .* is ready: \/accept \S+/);
          const id = /\/accept (\S+) saves it/.exec(
            (await alice.lines()).slice(0, ready).join("\n"),
          )!;
          const saved = join(clientDir, "downloads", "alice", "notes.bin");
          await assert.rejects(Deno.stat(saved), Deno.errors.NotFound, "not saved before /accept");
          await alice.type(`/accept ${id[1]}\r`);
          await alice.waitFor(/\* saved notes\.bin from bob to /, 15_000, mark);
          assert.deepEqual(await Deno.readFile(saved), await Deno.readFile(file));
          await bob.waitFor(/↑ notes\.bin \[#{24}\] 100% .* sent/, 15_000);
          for (const line of [...await alice.lines(), ...await bob.lines()]) {
            assert.doesNotMatch(line, /ETA \S+ s\S|received\S|sent\S/, `stray characters: ${line}`);
          }
        },
      );

      await t.step("history: up recalls the last line", async () => {
        await alice.type("\x1b[A");
        await alice.waitFor(/> \/accept \S+$/);
        await alice.type("\x15"); // Ctrl-U: the line is cleared again.
      });

      await t.step("a server restart: reconnecting shown, reconnected, messages flow", async () => {
        // Marks: the input row, which the next transcript line replaces.
        const aliceMark = (await alice.lines()).length - 1;
        const bobMark = (await bob.lines()).length - 1;
        await server!.stop();
        server = undefined;
        await alice.waitFor(
          /connection lost \(\d+[^)]*\); reconnecting in \d+ ms…/,
          15_000,
          aliceMark,
        );
        await bob.waitFor(/reconnecting in \d+ ms…/, 15_000, bobMark);
        server = await startServerProcess(dataDir, [], port);
        await alice.waitFor(/\* reconnected after \d+ attempts?/, 20_000, aliceMark);
        await bob.waitFor(/\* reconnected after \d+ attempts?/, 20_000, bobMark);
        // Bob learns of Alice again from the restarted server's presence.
        await bob.waitFor(/\* alice is online/, 20_000, bobMark);
        await bob.type("/tell alice after the restart\r");
        await bob.waitFor(/me → alice: after the restart {2}✓ delivered/, 20_000, bobMark);
        await alice.waitFor(/\d\d:\d\d bob: after the restart/, 20_000, aliceMark);
      });

      await t.step("Ctrl-C quits cleanly", async () => {
        await alice.type("\x03");
        assert.equal(await alice.status(), 0);
        await bob.type("/quit\r");
        assert.equal(await bob.status(), 0);
      });
      await t.step("returning: a mistyped passphrase is asked again, unseen", async () => {
        const again = startPtyClient(clientArgs(server!.url, clientDir, "alice"));
        try {
          await again.waitFor(/Passphrase for .*alice\.json \(not shown\): ?$/);
          await again.type("not alice's words\r");
          const mark = await again.waitFor(/Wrong passphrase, try again\./, 30_000);
          await again.waitFor(/Passphrase for .*\(not shown\): ?$/, 15_000, mark - 1);
          await again.type("alice's secret words\r");
          await again.waitFor(/\d\d:\d\d \* connected/, 30_000, mark);
          assert.doesNotMatch(again.raw(), /secret words|not alice's/);
          // The conversation from before the restart, from the encrypted local history.
          await again.type("/history bob 3\r");
          await again.waitFor(
            /history with bob \(3\):\n {2}\S+ \d\d:\d\d alice: hi bob\n {2}\S+ \d\d:\d\d bob: word0 .*\n {2}\S+ \d\d:\d\d bob: after the restart/,
            15_000,
            mark,
          );
          await again.type("\x04"); // Ctrl-D on the empty line leaves.
          assert.equal(await again.status(), 0);
        } finally {
          await again.kill();
        }
      });
    } finally {
      await alice.kill();
      await bob.kill();
      await server?.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(clientDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "terminal client on a pty: a new keystore refuses a short passphrase and a differing repeat",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "socp-tty-" });
    // No server is needed: the keystore is refused before any connection.
    const client = startPtyClient(clientArgs("ws://127.0.0.1:9", dir, "carol"));
    try {
      await client.waitFor(/New passphrase \(not shown\): ?$/);
      await client.type("1234567\r");
      let mark = await client.waitFor(/at least 8 characters/);
      await client.waitFor(/New passphrase \(not shown\): ?$/, 15_000, mark);
      await client.type("long enough one\r");
      mark = await client.waitFor(/Repeat it: ?$/, 15_000, mark);
      await client.type("long enough two\r");
      mark = await client.waitFor(/The two passphrases differ\./, 15_000, mark);
      await client.waitFor(/New passphrase \(not shown\): ?$/, 15_000, mark);
      await client.type("short\r");
      await client.waitFor(/No keystore created: The passphrase needs at least 8 characters/);
      assert.equal(await client.status(), 2);
      assert.doesNotMatch(client.raw(), /1234567|long enough|short/);
      await assert.rejects(Deno.stat(join(dir, "carol.json")), Deno.errors.NotFound);
    } finally {
      await client.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

/** Runs the client with piped stdin (no terminal); its exit code and output. */
async function runNoTerminal(
  url: string,
  dir: string,
  name: string,
  env: Record<string, string>,
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "client", ...clientArgs(url, dir, name)],
    env: { NO_COLOR: "1", ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test({
  name:
    "terminal client without a terminal: commands from piped stdin, passphrase from the environment",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server2");
    const dir = await Deno.makeTempDir({ prefix: "socp-tty-" });
    const server = await startServerProcess(dataDir);
    const run = (name: string, env: Record<string, string>, stdin: string) =>
      runNoTerminal(server.url, dir, name, env, stdin);
    try {
      const none = await run("carol", {}, "/quit\n");
      assert.equal(none.code, 2);
      assert.match(none.stderr, new RegExp(`No passphrase: set ${NO_ENV} or run interactively`));
      const piped = await run("dave", { [NO_ENV]: "dave's pass phrase" }, "/list\n/quit\n");
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stdout, /\d\d:\d\d \* connected/);
      assert.match(piped.stdout, /\d\d:\d\d online \(1\):\n {2}dave/);
      // The minimum length holds for a keystore created from the environment too.
      const short = await run("eve", { [NO_ENV]: "short" }, "/quit\n");
      assert.equal(short.code, 2);
      assert.match(short.stderr, /No keystore created: The passphrase needs at least 8 characters/);
      await assert.rejects(Deno.stat(join(dir, "eve.json")), Deno.errors.NotFound);
      const fine = await run("eve", { [NO_ENV]: "eve's pass phrase" }, "/quit\n");
      assert.equal(fine.code, 0, fine.stderr);
      assert.match(fine.stdout, /\* connected/);
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "--json: the client exits when the connection closes; with --reconnect it comes back",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server3");
    const dir = await Deno.makeTempDir({ prefix: "socp-json-" });
    const port = freePort();
    let server: ServerProcess | undefined = await startServerProcess(dataDir, [], port);
    const once = await startClientProcess(server.url, "alice", dir);
    const again = await startClientProcess(server.url, "bob", dir, "bob", [
      "--reconnect",
      "--reconnect-delay",
      "100,400",
    ]);
    try {
      await server.stop();
      server = undefined;
      const closed = await once.next((e) => e.event === "closed", 15_000, "closed");
      assert.notEqual(closed.code, 1000);
      assert.equal(await once.status(), 1, "a script sees the connection end");
      await again.next(
        (e) => e.event === "connection" && (e.connection as { state: string }).state === "waiting",
        15_000,
        "waiting",
      );
      server = await startServerProcess(dataDir, [], port);
      const online = (e: Record<string, unknown>) =>
        e.event === "connection" && (e.connection as { state: string }).state === "online";
      await again.next((e) => online(e) && again.events.filter(online).length >= 2, 30_000, "back");
      assert.ok(!again.events.some((e) => e.event === "closed"), "no exit with --reconnect");
      assert.equal(await again.quit(), 0);
    } finally {
      await once.kill();
      await again.kill();
      await server?.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
