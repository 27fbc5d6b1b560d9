/**
 * The server's SQLite store (node:sqlite): append-only event log, inbound journal and the
 * spec §15.1 projections. Writes are buffered and group-committed in one transaction, and the
 * Router commits before it performs the effects of a batch, so nothing a peer was told is lost
 * on a crash. WAL with synchronous=NORMAL survives a killed process (not a power cut).
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { COMMIT_BATCH_MAX, JOURNAL_ROWS_MAX } from "../protocol/limits.ts";
import { Checkpointer } from "./checkpointer.ts";
import { chunkEvents, chunkQuery, readChunk } from "./event_chunks.ts";
import { EVENT_VERSION, type RouterEvent, type StoredEvent } from "./events.ts";
import { MIGRATIONS } from "./schema.ts";
import { applyProjection, clearProjections } from "./projections.ts";

/**
 * One input of the Router as it arrived, with the verdict: every frame (accepted or refused by a
 * link), every link closing, dial, welcome and rekey. Together with the events before it, this
 * is enough to re-run the server's decisions (`replay`).
 */
export interface JournalRow {
  at_ms: number;
  /** Link id, e.g. `conn:3` or `peer:1`; "" for inputs of no link. */
  link: string;
  /**
   * `frame` (raw text received), `close`, `dial`, `welcome` (raw welcome), `rekey`, `note`: a
   * frame a link handled on its own (password login), or `outbound`: a join or dial we tried
   * and its verdict (`actors/server/outbound_journal.ts`); the last two are shown by replay, not re-run.
   */
  kind: "frame" | "close" | "dial" | "welcome" | "rekey" | "note" | "outbound";
  raw: string;
  /** JSON of whatever else the input carried that the raw text cannot give (ids drawn, ...). */
  input: string;
  verdict: "accepted" | "dropped";
  reason: string;
  /** Sequence number of the last event before this input was decided. */
  event_seq: number;
}

/** A journal row as stored. */
export type StoredJournalRow = JournalRow & { seq: number };

/** Options for {@linkcode Store.open}. */
export interface StoreOptions {
  /** Journal rows kept; the oldest are deleted past this. */
  journalRowsMax?: number;
  /** Told each journal row as it is buffered (metrics). */
  onJournal?: (row: JournalRow) => void;
  /** Told each batch of events as it is buffered (the operator's log). */
  onAppend?: (events: readonly RouterEvent[]) => void;
  /**
   * Checkpoint the WAL on a thread of its own (`checkpointer.ts`; a file database only), telling
   * `onFailure` why a checkpoint failed.
   */
  checkpointThread?: { onFailure: (why: string) => void };
}

/** Database file inside a data dir. */
export const DATABASE_FILE = "socp.sqlite";

/** The event log, journal and projections of one server. */
export class Store {
  readonly db: DatabaseSync;
  /** The database file (`:memory:` for tests). */
  readonly path: string;
  #pendingEvents: RouterEvent[] = [];
  #pendingJournal: JournalRow[] = [];
  #insertEvent: StatementSync;
  #insertJournal: StatementSync;
  /** Run at every commit with journal rows: prepared once (preparing it showed in profiles). */
  #trimJournalRows: StatementSync;
  #journalRowsMax: number;
  #onJournal: ((row: JournalRow) => void) | undefined;
  #onAppend: ((events: readonly RouterEvent[]) => void) | undefined;
  #lastSeq: number;
  #commitScheduled = false;
  readonly #checkpointer: Checkpointer | undefined;

  private constructor(db: DatabaseSync, path: string, options: StoreOptions) {
    this.db = db;
    this.path = path;
    this.#journalRowsMax = options.journalRowsMax ?? JOURNAL_ROWS_MAX;
    this.#onJournal = options.onJournal;
    this.#onAppend = options.onAppend;
    this.#insertEvent = db.prepare(
      "INSERT INTO events (type, version, at_ms, data) VALUES (?, ?, ?, ?)",
    );
    this.#insertJournal = db.prepare(
      "INSERT INTO journal (at_ms, link, kind, raw, input, verdict, reason, event_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#trimJournalRows = db.prepare(
      "DELETE FROM journal WHERE seq <= (SELECT MAX(seq) FROM journal) - ?",
    );
    if (options.checkpointThread && path !== ":memory:") {
      this.#checkpointer = new Checkpointer(db, path, options.checkpointThread.onFailure);
    }
    this.#lastSeq = Number(
      (db.prepare("SELECT COALESCE(MAX(seq), 0) AS s FROM events").get() as { s: number }).s,
    );
  }

  /** Opens (creating and migrating if needed) the database at `path` (`:memory:` for tests). */
  static open(path: string, options: StoreOptions = {}): Store {
    if (path !== ":memory:") ownerOnly(path);
    const db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode=WAL");
    // The build defaults WAL to FULL; NORMAL keeps committed data across a killed process.
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec("PRAGMA busy_timeout=5000");
    migrate(db);
    return new Store(db, path, options);
  }

  /** Sequence number of the last event appended (committed or pending). */
  get lastSeq(): number {
    return this.#lastSeq + this.#pendingEvents.length;
  }

  /** Buffers events; they are written by the next {@linkcode commit}. Returns their seqs. */
  append(events: readonly RouterEvent[]): number[] {
    this.#onAppend?.(events);
    const first = this.lastSeq + 1;
    this.#pendingEvents.push(...events);
    if (this.#pendingEvents.length >= COMMIT_BATCH_MAX) this.commit();
    return events.map((_, i) => first + i);
  }

  /** Buffers a journal row; written by the next commit, which is scheduled if none is. */
  journal(row: JournalRow): void {
    this.#onJournal?.(row);
    this.#pendingJournal.push(row);
    if (this.#pendingJournal.length >= COMMIT_BATCH_MAX) this.commit();
    else this.#scheduleCommit();
  }

  /** Writes every buffered event, its projections and journal rows in one transaction. */
  commit(): void {
    if (this.#pendingEvents.length === 0 && this.#pendingJournal.length === 0) return;
    const events = this.#pendingEvents;
    const rows = this.#pendingJournal;
    this.#pendingEvents = [];
    this.#pendingJournal = [];
    this.db.exec("BEGIN");
    try {
      for (const event of events) {
        const { type, at_ms, ...rest } = event;
        const r = this.#insertEvent.run(type, EVENT_VERSION, at_ms, JSON.stringify(rest));
        this.#lastSeq = Number(r.lastInsertRowid);
        applyProjection(this.db, event);
      }
      for (const row of rows) {
        this.#insertJournal.run(
          row.at_ms,
          row.link,
          row.kind,
          row.raw,
          row.input,
          row.verdict,
          row.reason,
          row.event_seq,
        );
      }
      if (rows.length > 0) this.#trimJournal();
      this.db.exec("COMMIT");
      this.#checkpointer?.committed();
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Reads events in order, from `fromSeq` (inclusive). */
  *readEvents(fromSeq = 1, untilSeq = Number.MAX_SAFE_INTEGER): Generator<StoredEvent> {
    const query = chunkQuery(this.db);
    for (let from = fromSeq;;) {
      const chunk = readChunk(query, from, untilSeq);
      if (chunk.count === 0) return;
      yield* chunkEvents(chunk, from);
      from = chunk.last + 1;
    }
  }

  /** Reads journal rows in order. */
  *readJournal(fromSeq = 1): Generator<StoredJournalRow> {
    yield* this.db.prepare(
      "SELECT seq, at_ms, link, kind, raw, input, verdict, reason, event_seq FROM journal WHERE seq >= ? ORDER BY seq",
    ).iterate(fromSeq) as Iterable<StoredJournalRow>;
  }

  /** Reads a `log_meta` value (build, config, ...). */
  getMeta(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM log_meta WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  /** Writes a `log_meta` value immediately. */
  setMeta(key: string, value: string): void {
    this.db.prepare(
      "INSERT INTO log_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )
      .run(key, value);
  }

  /** Rebuilds the §15.1 projections from the whole event log. */
  rebuildProjections(): void {
    this.commit();
    this.db.exec("BEGIN");
    try {
      clearProjections(this.db);
      for (const event of this.readEvents()) applyProjection(this.db, event);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Commits what is pending and closes the database (after its checkpointing thread). */
  close(): void {
    this.#checkpointer?.stop();
    this.commit();
    this.db.close();
  }

  #scheduleCommit(): void {
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    // One commit per turn of the event loop groups every row written in that turn.
    setTimeout(() => {
      this.#commitScheduled = false;
      if (this.db.isOpen) this.commit();
    }, 0);
  }

  #trimJournal(): void {
    this.#trimJournalRows.run(this.#journalRowsMax);
  }
}

/**
 * Makes the database file readable by its owner only (it holds encrypted keystores and password
 * verifiers), creating it empty with 0600 if missing: SQLite gives the -wal and -shm files the
 * database's mode. A file left 0644 by an older build is narrowed.
 */
function ownerOnly(path: string): void {
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o600 }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (((Deno.statSync(file).mode ?? 0) & 0o077) !== 0) Deno.chmodSync(file, 0o600);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

function migrate(db: DatabaseSync): void {
  const current =
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.exec("BEGIN");
    db.exec(MIGRATIONS[v]!);
    db.exec(`PRAGMA user_version = ${v + 1}`);
    db.exec("COMMIT");
  }
}
