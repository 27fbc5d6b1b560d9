/**
 * The event log in chunks, as `Store.readEvents` and the reading thread of `read_ahead.ts` read
 * it: one query per {@linkcode READ_CHUNK_EVENTS} events, answering two JSON array texts built by
 * SQLite, the `data` objects as stored and the columns beside them. Reading rows one by one (a JS
 * value per column, a parse per row) made reading, not folding, the limit of a restart
 * (BENCHMARKS.md, f); splicing each row's columns into its `data` text in SQL copied every text
 * twice more. group_concat follows the subquery's primary-key order (an ORDER BY inside the
 * aggregate would sort again), and the order is checked.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { READ_CHUNK_EVENTS } from "../protocol/limits.ts";
import type { StoredEvent } from "./events.ts";

/** One chunk as the query answers it; `data` and `heads` are null when no row matched. */
export type EventChunk = { data: string | null; heads: string | null; count: number; last: number };

/** The chunk query on `db`: `get(from, until)` answers the chunk starting at seq `from`. */
export function chunkQuery(db: DatabaseSync): StatementSync {
  return db.prepare(
    `SELECT '[' || group_concat(data, ',') || ']' AS data,
       '[' || group_concat(seq || ',' || json_quote(type) || ',' || at_ms, ',') || ']' AS heads,
       count(*) AS count, max(seq) AS last
       FROM (SELECT seq, type, at_ms, data FROM events
             WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ${READ_CHUNK_EVENTS})`,
  );
}

/** Reads the chunk starting at seq `from` (none left when its `count` is 0). */
export function readChunk(query: StatementSync, from: number, until: number): EventChunk {
  return query.get(from, until) as EventChunk;
}

/** The events of a chunk read from seq `from`, checked to come in order. */
export function* chunkEvents(chunk: EventChunk, from: number): Generator<StoredEvent> {
  if (chunk.count === 0 || chunk.data === null || chunk.heads === null) return;
  const fields = JSON.parse(chunk.data) as object[];
  const columns = JSON.parse(chunk.heads) as (number | string)[];
  let next = from;
  for (let i = 0; i < fields.length; i++) {
    const seq = columns[3 * i] as number;
    if (seq < next) throw new Error(`event log read out of order at seq ${seq}`);
    next = seq + 1;
    const head = { seq, type: columns[3 * i + 1], at_ms: columns[3 * i + 2] };
    yield Object.assign(head, fields[i]) as StoredEvent;
  }
  if (next !== chunk.last + 1) {
    throw new Error(`event log read out of order before seq ${chunk.last}`);
  }
}
