/**
 * Whole-file writes that never leave a torn file behind. `Deno.writeTextFile` truncates and then
 * writes, so a process that exits in between (a client quitting while it pins a key) leaves an
 * empty or half-written file that fails to parse on the next start. Writing a sibling temporary
 * file and renaming (or linking) it into place is atomic on POSIX: a reader sees the old text or
 * the new, never part of it.
 * @module
 */

/**
 * Replaces `path` with `content` atomically. `mode` applies from creation, so a key is never
 * readable by others, not even briefly; `createNew` refuses to replace an existing file.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: { mode?: number; createNew?: boolean } = {},
): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
    await Deno.writeFile(tmp, bytes, { mode: options.mode ?? 0o644, createNew: true });
    // link(2) fails when the target exists; rename(2) replaces it.
    await (options.createNew ? Deno.link(tmp, path) : Deno.rename(tmp, path));
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
