// Goal: pins survive any interleaving of saves. Many pins at once all reach the file, the file is
// valid JSON with mode 0600 at every moment a reader looks, and no temporary file is left behind.
import assert from "node:assert/strict";
import { join } from "node:path";
import { KnownKeys } from "./known_keys.ts";

Deno.test("known keys: concurrent pins all land, atomically, with mode 0600", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "me.known.json");
  try {
    const known = await KnownKeys.load(path);
    const ids = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    // A reader polls the file the whole time: it must always parse (never empty or torn).
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        try {
          JSON.parse(await Deno.readTextFile(path));
          reads++;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
    })();
    const results = await Promise.all(ids.map((id) => known.user(id, `key-of-${id}`)));
    await known.flushed();
    writing = false;
    await reader;
    assert.ok(results.every((r) => r === "new"));
    assert.ok(reads > 0, "the reader saw the file");

    const again = await KnownKeys.load(path);
    for (const id of ids) assert.equal(again.pinnedUser(id), `key-of-${id}`);
    assert.equal(await again.user("user-3", "another key"), "changed");
    assert.equal(await again.user("user-3", "key-of-user-3"), "same");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["me.known.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("known keys: a torn file is a clear error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "me.known.json");
  try {
    await Deno.writeTextFile(path, '{"servers": {');
    await assert.rejects(KnownKeys.load(path), /Cannot read known keys ".*me\.known\.json"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("known keys as the core's memory: names and untrusted changes survive a reload", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "me.known.json");
  try {
    const memory = (await KnownKeys.load(path)).asMemory();
    await memory.saveKnownKey({
      user_id: "u1",
      spki: "AAAA",
      fingerprint: "",
      label: "bob",
      first_seen: 1,
    });
    await memory.saveKnownKey({
      user_id: "u1",
      spki: "AAAA",
      fingerprint: "",
      label: "bob",
      first_seen: 1,
      changed: { spki: "BBBB", fingerprint: "", at: 2 },
    });
    await memory.saveServerPin({
      url: "ws://x/",
      server_id: "s",
      spki: "SSSS",
      fingerprint: "",
      content_sig: "B",
    });
    const reloaded = await KnownKeys.load(path);
    assert.equal(reloaded.data.users.u1, "AAAA", "the pin stays in the file's format");
    const again = reloaded.asMemory();
    const bob = await again.knownKey("u1");
    assert.deepEqual([bob?.label, bob?.spki, bob?.changed?.spki], ["bob", "AAAA", "BBBB"]);
    assert.deepEqual((await again.knownKeys()).map((k) => [k.user_id, k.label]), [["u1", "bob"]]);
    assert.equal((await again.serverPin("ws://x/"))?.content_sig, "B");
    // Trusting the new key re-pins it and clears the change.
    await again.saveKnownKey({
      user_id: "u1",
      spki: "BBBB",
      fingerprint: "",
      label: "bob",
      first_seen: 3,
    });
    assert.deepEqual([(await again.knownKey("u1"))?.spki, (await again.knownKey("u1"))?.changed], [
      "BBBB",
      undefined,
    ]);
    // A server pin is never replaced through the memory: a changed server key stays reported.
    await again.saveServerPin({ url: "ws://x/", server_id: "s", spki: "TTTT", fingerprint: "" });
    assert.equal((await again.serverPin("ws://x/"))?.spki, "SSSS");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
