// Goal (memory): on Linux with glibc, the trimmer hands freed C heap back to the system, so
// an idle server's RSS shows what it holds, not what malloc keeps cached after a burst.
import assert from "node:assert/strict";
import { mallocTrimmer } from "./memory_trim.ts";

Deno.test({
  name: "memory trim: freed C heap leaves the process's RSS",
  ignore: mallocTrimmer() === undefined,
  async fn() {
    const probe = new URL("./_memory_trim_probe.ts", import.meta.url);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-read", probe.href],
      stdin: "null",
      stderr: "inherit",
    }).output();
    assert.equal(out.code, 0);
    const { before, after } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(before - after > 48, `RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB`);
  },
});
