// Goal (memory): on Linux with glibc, the trimmer hands freed C heap back to the system, so
// an idle server's RSS shows what it holds, not what malloc keeps cached after a burst.
import assert from "node:assert/strict";
import { mallocTrimmer } from "./memory_trim.ts";

const trim = mallocTrimmer();

function rssMiB(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

Deno.test({
  name: "memory trim: freed C heap leaves the process's RSS",
  ignore: trim === undefined,
  fn() {
    const libc = Deno.dlopen("libc.so.6", {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
      memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
    });
    try {
      // 96 MiB in 4 KiB blocks, touched so they count in RSS; the last block stays allocated
      // so that malloc cannot give the rest back by lowering the top of its heap.
      const blocks: Deno.PointerValue[] = [];
      for (let i = 0; i < 24_576; i++) {
        const p = libc.symbols.malloc(4096n);
        libc.symbols.memset(p, 1, 4096n);
        blocks.push(p);
      }
      const pin = blocks.pop()!;
      for (const p of blocks) libc.symbols.free(p);
      const before = rssMiB();
      trim!();
      const after = rssMiB();
      libc.symbols.free(pin);
      assert.ok(before - after > 48, `RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB`);
    } finally {
      libc.close();
    }
  },
});
