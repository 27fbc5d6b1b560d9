/**
 * Whole-file writes that never leave a torn file behind. `Deno.writeTextFile` truncates and then
 * writes, so a process that exits in between (a client quitting while it pins a key) leaves an
 * empty or half-written file that fails to parse on the next start. Writing a sibling temporary
 * file and renaming (or linking) it into place is atomic on POSIX: a reader sees the old text or
 * the new, never part of it. The data is synced before the rename, and the directory after it.
 * @module
 */
import { dirname } from "node:path";

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
    const file = await Deno.open(tmp, {
      write: true,
      createNew: true,
      mode: options.mode ?? 0o644,
    });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      // On disk before the name points at it: a power cut must not leave an empty file under
      // the final name.
      await file.sync();
    } finally {
      file.close();
    }
    // link(2) fails when the target exists; rename(2) replaces it.
    await (options.createNew ? Deno.link(tmp, path) : Deno.rename(tmp, path));
    await syncDir(dirname(path));
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Makes a rename in `dir` durable (best effort: not every platform opens directories). */
async function syncDir(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // A directory that cannot be opened for sync (Windows) keeps the rename's own guarantee.
  } finally {
    handle?.close();
  }
}
