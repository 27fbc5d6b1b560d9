/**
 * Run by `memory_trim_test.ts` as a process of its own, so that RSS is this process's alone
 * (test modules running in parallel share one process, and their allocations move its RSS by
 * tens of MB within a trim): leaves 96 MiB of freed C heap in malloc's arenas, trims, and prints
 * `{ "before": MiB, "after": MiB }`, or `{ "skipped": true }` where there is nothing to trim with.
 * @module
 */
import { mallocTrimmer } from "./memory_trim.ts";

const trim = mallocTrimmer();
const rssMiB = () => Deno.memoryUsage().rss / 2 ** 20;

if (trim === undefined) {
  console.log(JSON.stringify({ skipped: true }));
} else {
  const libc = Deno.dlopen("libc.so.6", {
    malloc: { parameters: ["usize"], result: "pointer" },
    free: { parameters: ["pointer"], result: "void" },
    memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
  });
  // 96 MiB in 4 KiB blocks, touched so they count in RSS; the last block stays allocated so
  // that malloc cannot give the rest back by lowering the top of its heap.
  const blocks: Deno.PointerValue[] = [];
  for (let i = 0; i < 24_576; i++) {
    const p = libc.symbols.malloc(4096n);
    libc.symbols.memset(p, 1, 4096n);
    blocks.push(p);
  }
  const pin = blocks.pop()!;
  for (const p of blocks) libc.symbols.free(p);
  const before = rssMiB();
  trim();
  const after = rssMiB();
  libc.symbols.free(pin);
  libc.close();
  console.log(JSON.stringify({ before, after }));
}
