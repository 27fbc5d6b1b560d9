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
import {
  BUSY,
  type CheckpointFailure,
  type CheckpointStart,
  COMMITS,
  IDLE,
  STATE,
} from "./checkpointer.ts";

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
