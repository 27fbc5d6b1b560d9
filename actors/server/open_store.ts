/**
 * Opens the server's store: every journaled input is counted for `/metrics` (inputs by
 * verdict, drops by reason), every event is said in the operator's log, and the build and
 * configuration this run uses are recorded. Its WAL is checkpointed on a thread of its own.
 * @module
 */
import { Store } from "../../store/store.ts";
import { BUILD } from "./build.ts";
import type { ServerConfig } from "./config.ts";
import { logEvent } from "./event_lines.ts";
import type { ServerWorld } from "./server_world.ts";

/** Opens the database at `dbPath` for this run. */
export function openStore(
  dbPath: string,
  o: { config: ServerConfig; advertise: { host: string; port: number }; world: ServerWorld },
): Store {
  const { metrics, log } = o.world;
  const store = Store.open(dbPath, {
    onJournal: (row) => metrics.journaled(row),
    onAppend: (events) => {
      for (const event of events) logEvent(log, event);
    },
    checkpointThread: { onFailure: (why) => log.warn("WAL checkpoint failed", { error: why }) },
  });
  store.setMeta("build", BUILD);
  store.setMeta("config", JSON.stringify({ ...o.config, advertise: o.advertise }));
  return store;
}
