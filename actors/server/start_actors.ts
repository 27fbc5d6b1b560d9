/**
 * Starts the Router and the actors around it: the supervisor and its links, the peer manager
 * that keeps server links up, and the public channel's key keeper.
 * @module
 */
import type { PublicKey } from "../../crypto/types.ts";
import {
  LINK_OUTBOX_MAX,
  ORIGIN_SEALS_MAX,
  PUBLIC_CHANNEL_REKEY_DELAY_MS,
  USER_KEYS_CACHED_MAX,
} from "../../protocol/limits.ts";
import type { Store } from "../../store/store.ts";
import { FairSigner } from "../links/fair_signer.ts";
import { KeyCache } from "../links/key_cache.ts";
import type { LinkContext } from "../links/link.ts";
import { Router } from "../router/router.ts";
import type { RouterConfig } from "../router/router_config.ts";
import type { RouterInput } from "../router/router_messages.ts";
import type { RouterState } from "../router/router_state.ts";
import { BUILD } from "./build.ts";
import type { ServerConfig } from "./config.ts";
import { Peers, socketConnector } from "./peers.ts";
import { PublicChannelKeys } from "./public_channel.ts";
import type { ServerParts } from "./server_world.ts";
import { Supervisor } from "./supervisor.ts";

/** What the actors are built from. */
export interface ActorParts extends ServerParts {
  store: Store;
  checkInvariants: boolean;
}

/** The running actors. */
export interface Actors {
  router: Router;
  supervisor: Supervisor;
  peers: Peers;
  keys: PublicChannelKeys;
}

/**
 * Builds the actors and folds the log into the Router. They refer to each other: the Router
 * sends to links and asks the peer manager to dial and the key keeper to rekey; they read its
 * state and post to it. None calls another while they are built: the Router acts only on its
 * turns, which run once this has returned, and nothing posts to it before the listener serves.
 */
export async function startActors(p: ActorParts): Promise<Actors> {
  const { config, identity, world: { clock, random, log, metrics } } = p;
  const state = (): Readonly<RouterState> => router.state;
  const post = (input: RouterInput): boolean => router.post(input);
  const answered = (): Promise<void> => router.answered();
  const supervisor = new Supervisor({ metrics, link: linkContext(p, state, post, answered) });
  const router = new Router(identity.server_id, {
    store: p.store,
    links: supervisor.links,
    log,
    config: routerConfig(config, p.advertise),
    dial: (id) => peers.dial(id),
    linked: (id) => peers.linked(id),
    rekey: () => keys.request(),
    checkInvariants: p.checkInvariants,
  });
  const foldStart = clock.now();
  const folded = await router.fold();
  log.info("event log folded", { events: folded, ms: clock.now() - foldStart });
  router.start({
    type: "ServerStarted",
    server_id: identity.server_id,
    server_pub: identity.key.publicKey.spki,
    at_ms: clock.now(),
    build: BUILD,
  });
  const keys = new PublicChannelKeys({
    backend: p.backend,
    key: identity.key,
    clock,
    random,
    log,
    state,
    post,
    delayMs: PUBLIC_CHANNEL_REKEY_DELAY_MS,
  });
  const peers = new Peers({
    note: p.note,
    clock,
    random,
    log,
    state,
    backoffBaseMs: config.reconnect_backoff_base_ms,
    backoffMaxMs: config.reconnect_backoff_max_ms,
    connect: socketConnector((socket, server_id) => supervisor.dialled(socket, server_id), p.dial),
  });
  return { router, supervisor, peers, keys };
}

/** What every link is given (the supervisor adds what it answers itself). */
function linkContext(
  p: ActorParts,
  state: () => Readonly<RouterState>,
  post: (input: RouterInput) => boolean,
  answered: () => Promise<void>,
): Omit<LinkContext, "uncongested" | "onReceive"> {
  const { clock, random, log } = p.world;
  // Seals take turns across origins (fair shares of the signing CPU).
  const fair = new FairSigner(p.signer, p.sealsAtOnce);
  return {
    backend: p.backend,
    signer: { seal: (frame, onStart) => fair.sign(frame, onStart) },
    fairTurn: (user) => fair.whenBelow(user, ORIGIN_SEALS_MAX),
    store: p.store,
    clock,
    random,
    log,
    state,
    post,
    answered,
    outboxMax: LINK_OUTBOX_MAX,
    heartbeatIntervalMs: p.config.heartbeat_interval_ms,
    linkTimeoutMs: p.config.link_timeout_ms,
    serverKeys: new Map<string, Promise<PublicKey | undefined>>(),
    userKeys: new KeyCache(p.backend, USER_KEYS_CACHED_MAX),
    advertise: p.advertise,
    limits: p.config.limits,
  };
}

/** The Router's view of the configuration: who may join, whose keys are pinned, where we are. */
function routerConfig(
  config: ServerConfig,
  advertise: { host: string; port: number },
): RouterConfig {
  return {
    join_policy: config.join_policy,
    pinned_keys: new Set(
      [...config.bootstrap_servers, ...config.pinned_servers].map((s) => s.pubkey),
    ),
    advertise,
    users_max: config.limits.users_max,
  };
}
