/**
 * The checkpointing thread of `checkpointer.ts`: every {@linkcode CHECKPOINT_INTERVAL_MS}, when
 * the server has committed since its last look, it opens its own connection, copies the WAL's
 * committed pages into the database (`PRAGMA wal_checkpoint(PASSIVE)`, which never blocks the
 * writer) and closes it again, so that between checkpoints it holds nothing open.
 * @module
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";
import { CHECKPOINT_INTERVAL_MS } from "../protocol/limits.ts";

/** `Int32Array` index of the commits the writer has made (it adds one per commit). */
export const COMMITS = 0;
/** `Int32Array` index of this thread's state: one of the three below. */
export const STATE = 1;
export const IDLE = 0;
export const BUSY = 1;
/** Set by the writer, only from `IDLE`: no checkpoint starts any more. */
export const STOPPED = 2;

/** What the writer sends, once: the database and the counters it shares. */
export interface CheckpointStart {
  path: string;
  shared: SharedArrayBuffer;
}
/** What this thread reports: a checkpoint failed, and why (a new reason only once). */
export interface CheckpointFailure {
  failed: string;
}

let commitsSeen = 0;
let lastFailure = "";

self.onmessage = (e: MessageEvent<CheckpointStart>) => {
  const ints = new Int32Array(e.data.shared);
  setInterval(() => checkpoint(e.data.path, ints), CHECKPOINT_INTERVAL_MS);
};

function checkpoint(path: string, ints: Int32Array): void {
  const commits = Atomics.load(ints, COMMITS);
  if (commits === commitsSeen) return;
  if (Atomics.compareExchange(ints, STATE, IDLE, BUSY) !== IDLE) return;
  try {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      commitsSeen = commits;
      lastFailure = "";
    } finally {
      db.close();
    }
  } catch (err) {
    if (String(err) !== lastFailure) {
      lastFailure = String(err);
      self.postMessage({ failed: lastFailure } satisfies CheckpointFailure);
    }
  } finally {
    Atomics.store(ints, STATE, IDLE);
    Atomics.notify(ints, STATE);
  }
}
