/**
 * Checkpoints the server's WAL on a thread of its own (`checkpoint_worker.ts`). SQLite's own
 * checkpoint runs inside a commit on the writer's thread: every thousand pages it copied the WAL
 * into the database there, which at a thousand DMs a second held the JS thread for 5–30 ms
 * about once a second and took two fifths of its commit time (a p99 of its own, and signing
 * threads left without work). The writer keeps SQLite's checkpoint only as a backstop, at
 * {@linkcode WAL_BACKSTOP_PAGES}: should the thread fall behind or fail, the WAL still stays
 * bounded.
 * @module
 */
import { CHECKPOINT_STOP_WAIT_MS, WAL_BACKSTOP_PAGES } from "../protocol/limits.ts";
import type { DatabaseSync } from "node:sqlite";

/** `Int32Array` index of the commits the writer has made (it adds one per commit). */
export const COMMITS = 0;
/** `Int32Array` index of the checkpointing thread's state: one of the three below. */
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
/** What the thread reports: a checkpoint failed, and why (a new reason only once). */
export interface CheckpointFailure {
  failed: string;
}

/** The checkpointing thread of one database, started by its writer. */
export class Checkpointer {
  readonly #worker: Worker;
  readonly #ints = new Int32Array(new SharedArrayBuffer(8));

  /**
   * Moves the checkpoints of `db` (the writer's connection to `path`) to a thread; `onFailure`
   * is told why a checkpoint failed (each new reason once).
   */
  constructor(db: DatabaseSync, path: string, onFailure: (why: string) => void) {
    db.exec(`PRAGMA wal_autocheckpoint=${WAL_BACKSTOP_PAGES}`);
    this.#worker = new Worker(new URL("./checkpoint_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<CheckpointFailure>) => onFailure(e.data.failed);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      onFailure(`checkpoint thread failed: ${e.message}`);
    };
    this.#worker.postMessage({ path, shared: this.#ints.buffer } satisfies CheckpointStart);
  }

  /** Counts a commit: the thread checkpoints only after commits. */
  committed(): void {
    Atomics.add(this.#ints, COMMITS, 1);
  }

  /**
   * Stops the thread between two checkpoints, waiting up to {@linkcode CHECKPOINT_STOP_WAIT_MS}
   * for one in progress, so that its connection is closed before the writer closes its own.
   */
  stop(): void {
    const deadline = performance.now() + CHECKPOINT_STOP_WAIT_MS;
    while (Atomics.compareExchange(this.#ints, STATE, IDLE, STOPPED) === BUSY) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      Atomics.wait(this.#ints, STATE, BUSY, left);
    }
    this.#worker.terminate();
  }
}
