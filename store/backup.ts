/**
 * A consistent copy of a server's database while it runs: `VACUUM INTO` reads one snapshot of
 * the log (WAL readers never block the writer, nor it them) and writes a compact new file,
 * which is then checked like a database at start. The copy is readable by its owner only.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { StartupError } from "../lib/startup_error.ts";
import { integrityProblem } from "./preflight.ts";

/** What a backup wrote. */
export interface BackupResult {
  events: number;
  bytes: number;
}

/** Copies the database at `from` into the new file `to` (which must not exist). */
export function backupDatabase(from: string, to: string): BackupResult {
  try {
    if (!Deno.statSync(from).isFile) throw new Deno.errors.NotFound();
  } catch {
    throw new StartupError(
      `No database at "${from}": pass the --data-dir of a server that has run.`,
    );
  }
  try {
    // VACUUM INTO fills an empty file, which is made 0600 first.
    Deno.openSync(to, { write: true, createNew: true, mode: 0o600 }).close();
  } catch (e) {
    throw new StartupError(
      e instanceof Deno.errors.AlreadyExists
        ? `"${to}" already exists: a backup never replaces a file; pass a new --out.`
        : `Cannot create "${to}" (${(e as Error).message}): pass an --out in a writable directory.`,
    );
  }
  const db = new DatabaseSync(from);
  try {
    db.exec("PRAGMA busy_timeout=5000");
    db.prepare("VACUUM INTO ?").run(to);
  } catch (e) {
    Deno.removeSync(to);
    throw new StartupError(
      `Cannot back up "${from}" (${(e as Error).message}): check it with \`main.ts replay ` +
        `--check\` and restore an older backup if it is corrupt.`,
    );
  } finally {
    db.close();
  }
  const problem = integrityProblem(to, true);
  if (problem !== undefined) {
    throw new StartupError(`The backup "${to}" does not check (${problem}); keep the old one.`);
  }
  const copy = new DatabaseSync(to);
  try {
    const { n } = copy.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number };
    return { events: n, bytes: Deno.statSync(to).size };
  } finally {
    copy.close();
  }
}
