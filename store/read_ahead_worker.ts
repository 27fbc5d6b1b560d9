/**
 * The reading thread of `read_ahead.ts`: reads the event log's chunks (`event_chunks.ts`) on its
 * own read-only connection and posts each chunk's texts, staying at most
 * {@linkcode READ_AHEAD_CHUNKS} ahead of what the fold has taken.
 * @module
 */
/// <reference lib="deno.worker" />
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { READ_AHEAD_CHUNKS } from "../protocol/limits.ts";
import { chunkQuery, type EventChunk, readChunk } from "./event_chunks.ts";

/** What the fold asks: the log from `from` to `until`, then one more chunk per chunk taken. */
export type ReadRequest =
  | { type: "read"; path: string; from: number; until: number }
  | { type: "taken" };
/** What this thread answers: chunks in order, then the end or why it stopped. */
export type ReadReply =
  | { type: "chunk"; chunk: EventChunk }
  | { type: "end" }
  | { type: "error"; message: string };

let reading: { db: DatabaseSync; query: StatementSync; from: number; until: number } | undefined;
let credit = READ_AHEAD_CHUNKS;

self.onmessage = (e: MessageEvent<ReadRequest>) => {
  try {
    if (e.data.type === "read") {
      const { path, from, until } = e.data;
      const db = new DatabaseSync(path, { readOnly: true });
      reading = { db, query: chunkQuery(db), from, until };
    } else credit++;
    readAhead();
  } catch (err) {
    reading?.db.close();
    reading = undefined;
    self.postMessage({ type: "error", message: String(err) } satisfies ReadReply);
  }
};

function readAhead(): void {
  for (; reading !== undefined && credit > 0; credit--) {
    const chunk = readChunk(reading.query, reading.from, reading.until);
    if (chunk.count === 0) {
      reading.db.close();
      reading = undefined;
      self.postMessage({ type: "end" } satisfies ReadReply);
      return;
    }
    reading.from = chunk.last + 1;
    self.postMessage({ type: "chunk", chunk } satisfies ReadReply);
  }
}
