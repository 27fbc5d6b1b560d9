/**
 * The whole event log, read on another thread while this one folds it. At a restart, the SQLite
 * queries that read the log took as long as parsing and folding what they read; a reading thread
 * (`read_ahead_worker.ts`) runs them beside the fold, so a restart takes the longer of the two, not
 * their sum. What crosses between the threads is each chunk's JSON texts, copied once; parsing
 * stays here, as structured clones of the parsed events would cost more than parsing.
 *
 * A short log, or one only in memory, is read here: the thread costs more to start than it saves.
 * @module
 */
import { READ_AHEAD_MIN_EVENTS } from "../protocol/limits.ts";
import { chunkEvents } from "./event_chunks.ts";
import type { StoredEvent } from "./events.ts";
import type { ReadReply, ReadRequest } from "./read_ahead_worker.ts";
import type { Store } from "./store.ts";

/**
 * Every event of `store` in order (pending ones are committed first), a chunk at a time: a
 * promise per chunk, not per event. A log of fewer than `minEvents` is read on this thread.
 */
export async function* readLogAhead(
  store: Store,
  minEvents = READ_AHEAD_MIN_EVENTS,
): AsyncGenerator<Iterable<StoredEvent>> {
  store.commit();
  const until = store.lastSeq;
  if (store.path === ":memory:" || until < minEvents) {
    yield store.readEvents(1, until);
    return;
  }
  const worker = new Worker(new URL("./read_ahead_worker.ts", import.meta.url), { type: "module" });
  const replies = replyQueue(worker);
  try {
    worker.postMessage({ type: "read", path: store.path, from: 1, until } satisfies ReadRequest);
    for (let from = 1;;) {
      const reply = await replies.next();
      if (reply.type === "end") break;
      if (reply.type === "error") throw new Error(`reading the event log: ${reply.message}`);
      worker.postMessage({ type: "taken" } satisfies ReadRequest);
      yield chunkEvents(reply.chunk, from);
      from = reply.chunk.last + 1;
    }
  } finally {
    worker.terminate();
  }
}

/** The worker's replies in order; a worker that dies answers an error. */
function replyQueue(worker: Worker): { next(): Promise<ReadReply> } {
  const ready: ReadReply[] = [];
  let waiting: ((reply: ReadReply) => void) | undefined;
  const take = (reply: ReadReply) => {
    if (waiting === undefined) return void ready.push(reply);
    const wake = waiting;
    waiting = undefined;
    wake(reply);
  };
  worker.onmessage = (e: MessageEvent<ReadReply>) => take(e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    take({ type: "error", message: e.message });
  };
  return {
    next: () => {
      const reply = ready.shift();
      return reply !== undefined ? Promise.resolve(reply) : new Promise((r) => (waiting = r));
    },
  };
}
