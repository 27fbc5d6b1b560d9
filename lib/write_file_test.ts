// Goal: an atomic write leaves the new text with the asked mode and no temporary file; with
// `createNew` it refuses to replace an existing file (a server key is never overwritten).
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "./write_file.ts";

Deno.test("writeFileAtomic replaces whole files, keeps modes, and honours createNew", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "f.json");
    await writeFileAtomic(path, "one", { mode: 0o600 });
    await writeFileAtomic(path, "two", { mode: 0o600 });
    assert.equal(await Deno.readTextFile(path), "two");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);

    const key = join(dir, "key.pem");
    await writeFileAtomic(key, "first key", { mode: 0o600, createNew: true });
    await assert.rejects(
      writeFileAtomic(key, "second key", { mode: 0o600, createNew: true }),
      Deno.errors.AlreadyExists,
    );
    assert.equal(await Deno.readTextFile(key), "first key");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["f.json", "key.pem"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
