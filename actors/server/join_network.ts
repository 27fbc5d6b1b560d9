/**
 * Joining the network at start, and again later when no introducer answered then. An
 * introducer may assign us another id: at start we adopt it; a running server only logs that it
 * must restart to adopt it, and closes that join.
 * @module
 */
import { saveServerId } from "../../store/identity.ts";
import { join, type Joined } from "./bootstrap.ts";
import type { ServerParts } from "./server_world.ts";
import type { TimerId } from "../../lib/world.ts";

/**
 * Joins through the first introducer that welcomes us (none configured: undefined), adopting
 * and saving the id it assigns.
 */
export async function joinNetwork(o: ServerParts): Promise<Joined | undefined> {
  const { config, identity, world: { log } } = o;
  if (config.bootstrap_servers.length === 0) return undefined;
  const joined = await join(config.bootstrap_servers, joiner(o));
  if (joined && joined.assigned_id !== identity.server_id) {
    log.warn("introducer assigned a new server id", {
      requested: identity.server_id,
      assigned: joined.assigned_id,
    });
    identity.server_id = joined.assigned_id;
    await saveServerId(config.data_dir, identity);
  }
  if (!joined) log.warn("no introducer reachable: running on our own until one is");
  return joined;
}

/**
 * Keeps trying to join when introducers are configured and none answered at start; `welcomed`
 * gets a join that kept our id. Undefined when there is nothing to retry.
 */
export function joinLater(
  o: ServerParts,
  joined: Joined | undefined,
  welcomed: (j: Joined) => void,
): { stop(): void } | undefined {
  if (o.config.bootstrap_servers.length === 0 || joined) return undefined;
  const { identity, world: { log } } = o;
  return retryJoin(o, (j) => {
    if (j.assigned_id !== identity.server_id) {
      log.error("introducer assigned a different id to a running server; restart to adopt it", {
        assigned: j.assigned_id,
      });
      j.socket.close(1000, "restart needed");
    } else welcomed(j);
  });
}

/** Retries the join with exponential backoff and jitter until one succeeds or it is stopped. */
function retryJoin(o: ServerParts, done: (j: Joined) => void): { stop(): void } {
  const { config, world: { clock, random } } = o;
  let stopped = false;
  let failures = 0;
  let timer: TimerId | undefined;
  const attempt = async () => {
    if (stopped) return;
    const j = await join(config.bootstrap_servers, joiner(o));
    if (stopped) return j?.socket.close(1000, "shutting down");
    if (j) return done(j);
    failures++;
    const delay = Math.min(
      config.reconnect_backoff_max_ms,
      config.reconnect_backoff_base_ms * 2 ** Math.min(failures, 30),
    );
    timer = clock.setTimeout(() => void attempt(), Math.round(delay * (0.5 + random.float() / 2)));
  };
  timer = clock.setTimeout(() => void attempt(), config.reconnect_backoff_base_ms);
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}

function joiner(o: ServerParts) {
  const { clock, log } = o.world;
  return {
    server_id: o.identity.server_id,
    pubkey: o.identity.key.publicKey.spki,
    advertise: o.advertise,
    signer: o.signer,
    backend: o.backend,
    clock,
    log,
    dial: o.dial,
    note: o.note,
  };
}
