/**
 * Stops a server in order: nothing new starts (join retries, rekeys, dials), every link says
 * goodbye within a bound, the listener stops, the Router finishes what it was given, and only
 * then the database and the signing threads close.
 * @module
 */
import type { PooledBackend } from "../../crypto/sign_pool.ts";
import type { Store } from "../../store/store.ts";
import type { Listener } from "./listen.ts";
import type { ServerWorld } from "./server_world.ts";
import type { Actors } from "./start_actors.ts";

/** Everything a running server holds. */
export interface Holdings {
  server_id: string;
  actors: Actors;
  listener: Listener;
  store: Store;
  pool?: PooledBackend;
  /** The join retries, when no introducer answered at start. */
  rejoin?: { stop(): void };
  world: ServerWorld;
}

/** Closes every link and the listener, then the database. */
export async function closeServer(h: Holdings): Promise<void> {
  const { router, supervisor, peers, keys } = h.actors;
  h.rejoin?.stop();
  keys.stop();
  peers.stop();
  // Each link's last frames and close frame go out before the listener stops.
  await supervisor.shutdown();
  await h.listener.stop();
  await router.mailbox.idle();
  h.store.close();
  h.pool?.close();
  h.world.log.info("shut down", { server_id: h.server_id });
}
