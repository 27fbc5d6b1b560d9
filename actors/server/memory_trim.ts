/**
 * Gives the C heap that connections freed back to the system. Deno's WebSocket stack allocates
 * through glibc's malloc, which keeps freed memory in its arenas: after a join storm (every
 * user is sent thousands of frames) an idle server held about 107 KiB of C heap per connection,
 * and 81 KiB once `malloc_trim(0)` had run (BENCHMARKS.md, e). Nothing in Deno asks for it, so
 * the serve command does, through FFI, now and then and before a memory report. Elsewhere than
 * Linux with glibc this is a no-op.
 * @module
 */

/** A function that trims the C heap, or undefined where there is no glibc to ask. */
export function mallocTrimmer(): (() => void) | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    return () => void libc.symbols.malloc_trim(0n);
  } catch {
    // musl or another libc without malloc_trim: its own heap policy applies.
    return undefined;
  }
}
