/**
 * Checks a data dir and its database before a server touches them: each problem is one
 * {@linkcode StartupError} sentence naming the file and what to do, and nothing on disk is
 * created or changed while checking (the database is opened only when its header shows an SQLite
 * file of the size it claims, and only read).
 * @module
 */
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { StartupError } from "../lib/startup_error.ts";

/** The 16 bytes every SQLite 3 database starts with. */
const SQLITE_MAGIC = "SQLite format 3\0";
const HEADER_BYTES = 100;

/** What to do about a database that cannot be used. */
const RESTORE_HINT = "restore it from a backup (made with `main.ts backup`)";

/**
 * Whether `dir` can hold a server's files: absent (it will be created), or a directory this
 * process may write to. Writing is tried for real (a file created and removed at once): mode
 * bits do not tell about root, read-only mounts or immutable directories.
 */
export async function checkDataDir(dir: string): Promise<"absent" | "present"> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "absent";
    throw new StartupError(
      `Cannot use data dir "${dir}": ${reason(e)}; fix its permissions or pass another --data-dir.`,
    );
  }
  if (!info.isDirectory) {
    throw new StartupError(
      `Data dir "${dir}" is a file, not a directory: move the file away or pass another --data-dir.`,
    );
  }
  const probe = join(dir, `.socp-write-check-${Deno.pid}`);
  try {
    (await Deno.open(probe, { createNew: true, write: true })).close();
    await Deno.remove(probe);
  } catch (e) {
    throw new StartupError(
      `Data dir "${dir}" is not writable by this user (${reason(e)}): fix its owner or ` +
        `mode, or pass another --data-dir.`,
    );
  }
  return "present";
}

/**
 * Checks the database at `path` when it exists: an SQLite file, as long as its header says, and
 * passing `PRAGMA quick_check` (`integrity_check` when `full`, which reads every page).
 */
export async function checkDatabase(path: string, full: boolean): Promise<void> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) {
      throw new StartupError(
        `Database "${path}" is not a file: move it away so the server can create its database.`,
      );
    }
    if (info.size === 0) return; // An empty file is an empty SQLite database.
    bytes = await readHeader(path);
    const header = checkHeader(path, bytes, info.size);
    if (header) throw new StartupError(header);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof StartupError) throw e;
    throw new StartupError(
      `Cannot read database "${path}": ${reason(e)}; fix its permissions or ${RESTORE_HINT}.`,
    );
  }
  const problem = integrityProblem(path, full);
  if (problem !== undefined) {
    throw new StartupError(
      `The event log "${path}" is corrupt (${problem}), so the server will not serve from it: ` +
        `run \`main.ts replay --check --data-dir ${
          dirname(path)
        }\` to see how far it still reads, and ` +
        `${RESTORE_HINT}.`,
    );
  }
}

/** The first problem `quick_check` (or `integrity_check`) reports, or undefined. */
export function integrityProblem(path: string, full: boolean): string | undefined {
  let db: DatabaseSync | undefined;
  try {
    // Read-write, so the last connection's close removes the -wal and -shm files it made (a
    // read-only one leaves them); the check itself writes nothing.
    db = new DatabaseSync(path);
    const rows = db.prepare(full ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)")
      .all() as Record<string, unknown>[];
    const first = String(Object.values(rows[0] ?? {})[0] ?? "no answer");
    return first === "ok" ? undefined : oneLine(first);
  } catch (e) {
    return oneLine((e as Error).message);
  } finally {
    db?.close();
  }
}

async function readHeader(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path, { read: true });
  try {
    const buffer = new Uint8Array(HEADER_BYTES);
    let filled = 0;
    while (filled < HEADER_BYTES) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    file.close();
  }
}

/** Why the first bytes of a file are not a whole SQLite database, or undefined. */
function checkHeader(path: string, header: Uint8Array, size: number): string | undefined {
  const magic = new TextDecoder().decode(header.subarray(0, SQLITE_MAGIC.length));
  if (header.length < HEADER_BYTES || magic !== SQLITE_MAGIC) {
    return `"${path}" is not an SQLite database: move it away (the server then starts with an ` +
      `empty log) or ${RESTORE_HINT}.`;
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const rawPageSize = view.getUint16(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = view.getUint32(28);
  // The page count is valid only when the change counter matches "version-valid-for".
  const countValid = view.getUint32(24) === view.getUint32(92);
  if (countValid && pages > 0 && size < pageSize * pages) {
    return `Database "${path}" is truncated (${size} bytes, its header says ` +
      `${pageSize * pages}): ${RESTORE_HINT}.`;
  }
  return undefined;
}

function oneLine(text: string): string {
  return text.replace(/\*\*\* in database \w+ \*\*\*/g, "").replace(/\s+/g, " ").trim();
}

function reason(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotADirectory) return "a part of the path is not a directory";
  return (e as Error).message.replace(/ \(os error \d+\)$/, "").toLowerCase();
}
