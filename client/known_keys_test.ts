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
