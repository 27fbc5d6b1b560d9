/**
 * The Router's server side (§3.1-3.4, §4): joining and linking, presence gossip, forwarded
 * delivery and loop/replay suppression. Pure, like the rest of `decide`.
 * @module
 */
import type { FrameOf } from "../../protocol/mod.ts";
import { SEEN_WINDOW_MS, SERVERS_MAX } from "../../protocol/limits.ts";
import type { RouterEvent } from "../../store/events.ts";
import type { RouterConfig } from "./router_config.ts";
import {
  accepted,
  type Decision,
  dropped,
  type Effect,
  errorFrame,
  type FromServerFrame,
  type Input,
  type PeerEntry,
  removeFrame,
  seenKey,
  type ServerHelloFrame,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";
import { flagId, isUuidV4 } from "../../protocol/ids.ts";
import { onPublicChannelFrame, onServerContent, unwrapContent } from "./router_content.ts";
import {
  direct,
  gossip,
  greet,
  type LinkedServer,
  onDigest,
  onRequest,
  ourFeatures,
} from "./router_gossip.ts";
import { acknowledged, flushServerOutbox, has, queueForUser } from "./router_delivery.ts";
import { FEATURE_DELIVERY_ACKS, FEATURE_RECEIPTS } from "../../protocol/features.ts";
import { messageRef } from "../../protocol/message_ref.ts";

/** Sends `frame` (signed by us) to every linked server. */
export function toServers(state: RouterState, frame: UnsignedFrame, except?: string): Effect[] {
  const effects: Effect[] = [];
  for (const [server, { link }] of state.servers) {
    if (server !== except) effects.push({ type: "Send", link, frame });
  }
  return effects;
}

/** The server a link belongs to, if it is a live server link. */
function serverOfLink(state: RouterState, link: string): string | undefined {
  for (const [server, entry] of state.servers) if (entry.link === link) return server;
  return undefined;
}

function announceFrame(
  state: RouterState,
  config: RouterConfig,
  at_ms: number,
): UnsignedFrame<"SERVER_ANNOUNCE"> {
  return {
    type: "SERVER_ANNOUNCE",
    from: state.server_id,
    to: "*",
    ts: at_ms,
    payload: {
      host: config.advertise.host,
      port: config.advertise.port,
      pubkey: state.server_pub,
      features: [...ourFeatures(config)],
    },
  };
}

/** Why a server with `pubkey` claiming `id` may not be trusted, or undefined. */
function distrust(
  state: RouterState,
  config: RouterConfig,
  id: string,
  pubkey: string,
): string | undefined {
  const pinned = state.server_keys.get(id);
  if (pinned !== undefined && pinned !== pubkey) {
    return `server id ${id} is pinned to a different key`;
  }
  if (config.join_policy === "pinned" && !config.pinned_keys.has(pubkey) && pinned === undefined) {
    return "this server accepts only servers whose keys are pinned in its configuration";
  }
  if (pinned === undefined && state.server_keys.size >= SERVERS_MAX) {
    return `the network is full (${SERVERS_MAX} servers)`;
  }
  return undefined;
}

/**
 * Adopts `link` as the link to `server`. When a link already exists, the one dialled by the
 * server with the smaller id wins, so two servers dialling each other settle on one link.
 */
function adopt(
  state: RouterState,
  config: RouterConfig,
  { server, link, outbound, at_ms, announced }: LinkedServer & { outbound: boolean },
): { events: RouterEvent[]; effects: Effect[] } | undefined {
  const existing = state.servers.get(server);
  const events: RouterEvent[] = [];
  const effects: Effect[] = [];
  if (existing && existing.link !== link) {
    const preferred = state.server_id < server ? state.server_id : server;
    const initiator = (o: boolean) => (o ? state.server_id : server);
    if (initiator(existing.outbound) === preferred && initiator(outbound) !== preferred) {
      return undefined;
    }
    events.push({
      type: "ServerUnlinked",
      server_id: server,
      link: existing.link,
      at_ms,
      reason: "replaced by a newer link",
    });
    effects.push({
      type: "Close",
      link: existing.link,
      code: 1000,
      reason: "replaced by a newer link",
    });
  }
  const features = [...(announced ?? state.delivery.features.get(server) ?? [])];
  events.push({ type: "ServerLinked", server_id: server, link, outbound, at_ms, features });
  // What waited for this server goes first, in order (reliable delivery).
  const outbox = flushServerOutbox(state.delivery, {
    server,
    link,
    acks: features.includes(FEATURE_DELIVERY_ACKS),
    at_ms,
  });
  events.push(...outbox.events);
  effects.push(...outbox.effects);
  // What we heard of its users came through other servers or an older link and may be stale;
  // its greeting on this link says who is there now, and its later words arrive in order.
  // A flagged peer's claims are kept aside for its digest to confirm.
  const forgotten = forgetUsersOf(state, server, at_ms, direct(state, config, server, features));
  return { events: [...events, ...forgotten.events], effects: [...effects, ...forgotten.effects] };
}

/** Drops every claim of `server` to host a user, telling local users what changes. */
function forgetUsersOf(
  state: RouterState,
  server: string,
  at_ms: number,
  dormant: boolean,
): { events: RouterEvent[]; effects: Effect[] } {
  const events: RouterEvent[] = [];
  const effects: Effect[] = [];
  for (const [user, claims] of state.user_claims) {
    if (!claims.has(server)) continue;
    events.push({
      type: "UserUnlocated",
      user_id: user,
      server_id: server,
      at_ms,
      ...(dormant ? { dormant } : {}),
    });
    if (state.user_locations.get(user) !== server) continue;
    const remove: UnsignedFrame<"USER_REMOVE"> = {
      ...removeFrame(state.server_id, at_ms, user),
      payload: { user_id: user, server_id: server },
    };
    for (const userLink of state.local_users.values()) {
      effects.push({ type: "Send", link: userLink, frame: remove });
    }
    effects.push(...toLocalUsersNextClaim(state, user, server));
  }
  return { events, effects };
}

/** After `server`'s claim on `user` goes: the advertise of the claim that takes over, to local users. */
function toLocalUsersNextClaim(state: RouterState, user: string, server: string): Effect[] {
  let next: string | undefined;
  for (const [other, record] of state.user_claims.get(user) ?? []) {
    if (other !== server) next = record.advertise;
  }
  return next === undefined ? [] : toLocalUsers(state, next);
}

function pinIfChanged(state: RouterState, entry: PeerEntry, at_ms: number): RouterEvent[] {
  const addr = state.server_addrs.get(entry.server_id);
  const known = [...(state.delivery.features.get(entry.server_id) ?? [])].join();
  if (
    state.server_keys.get(entry.server_id) === entry.pubkey && addr?.host === entry.host &&
    addr?.port === entry.port && (entry.features === undefined || entry.features.join() === known)
  ) return [];
  return [{ type: "ServerPinned", ...entry, at_ms }];
}

/** The first frame of an inbound server link: a join (§3.1.1) or a link (§3.1.3). */
export function onServerHello(
  state: RouterState,
  input: Input<"ServerHello">,
  config: RouterConfig,
): Decision {
  const { link, frame, pubkey, at_ms } = input;
  const me = state.server_id;
  const refuse = (detail: string) =>
    dropped(`BAD_KEY: ${detail}`, [
      { type: "Send", link, frame: errorFrame(me, frame.from, at_ms, "BAD_KEY", detail) },
      { type: "Close", link, code: 1008, reason: "BAD_KEY" },
    ]);
  const named = helloId(state, frame, pubkey, input.fresh_id);
  if ("refusal" in named) return refuse(named.refusal);
  const { id, alias } = named;
  const why = distrust(state, config, id, pubkey);
  if (why !== undefined) return refuse(why);
  const peer: PeerEntry = {
    server_id: id,
    host: frame.payload.host,
    port: frame.payload.port,
    pubkey,
    features: featuresOf(frame.payload),
  };
  const linked = adopt(state, config, {
    server: id,
    link,
    outbound: false,
    at_ms,
    announced: featuresOf(frame.payload),
  });
  if (!linked) {
    // A joiner we are already linked to (it gave up waiting for our welcome and we dialled
    // it) still needs the welcome: its list is how it learns the other servers.
    const welcome = frame.type === "SERVER_HELLO_JOIN"
      ? [welcomeSend(state, config, { id, link, at_ms })]
      : [];
    return dropped(`duplicate link from ${id}: keeping the one it dialled`, [...welcome, {
      type: "Close",
      link,
      code: 1000,
      reason: "duplicate link",
    }]);
  }
  const aliased: RouterEvent[] = alias
    ? [{ type: "ServerAliased", alias, server_id: id, at_ms }]
    : [];
  const events = [...pinIfChanged(state, peer, at_ms), ...aliased, ...linked.events];
  // The welcome answers the join, so it is the link's first frame, before the outbox that
  // waited for this server: a joiner reads the welcome first and refuses anything else.
  const effects: Effect[] = frame.type === "SERVER_HELLO_JOIN"
    ? [welcomeSend(state, config, { id, link, at_ms })]
    : [];
  effects.push(...linked.effects);
  effects.push(
    ...greet(state, config, { server: id, link, at_ms, announced: featuresOf(frame.payload) }),
  );
  return accepted(events, effects, `${frame.type} from ${flagId(id)}${named.note}`);
}

/**
 * The id a server hello names, and why. A joiner gets its requested id when that is a free UUID
 * v4 (§3.1.2), else a fresh one; a non-UUID id it asked for becomes its alias, bound to its key,
 * unless another server holds that alias. A link hello naming an alias must bring the alias's key.
 */
function helloId(
  state: RouterState,
  frame: ServerHelloFrame,
  pubkey: string,
  fresh: string,
): { id: string; alias?: string; note: string } | { refusal: string } {
  const asked = frame.from;
  const me = state.server_id;
  const aliasOf = state.server_aliases.get(asked);
  if (aliasOf !== undefined) {
    if (state.server_keys.get(aliasOf) === pubkey) {
      return { id: aliasOf, note: ` (alias ${asked}, bound to its key)` };
    }
    if (frame.type !== "SERVER_HELLO_JOIN") {
      return { refusal: `id ${asked} is an alias of server ${aliasOf}, bound to another key` };
    }
  }
  if (frame.type !== "SERVER_HELLO_JOIN") {
    return asked === me ? { refusal: "that is this server's own id" } : { id: asked, note: "" };
  }
  const pinned = state.server_keys.get(asked);
  if (isUuidV4(asked) && asked !== me && (pinned === undefined || pinned === pubkey)) {
    return { id: asked, note: "" };
  }
  const why = !isUuidV4(asked)
    ? "not a UUID v4"
    : asked === me
    ? "this server's own id"
    : "taken by another key";
  // A placeholder id stands for the first joiner that asked for it, and only for its key.
  const alias = !isUuidV4(asked) && aliasOf === undefined && pinned === undefined && asked !== me
    ? asked
    : undefined;
  return {
    id: fresh,
    ...(alias ? { alias } : {}),
    note: ` (assigned instead of ${asked}: ${why}${alias ? `; ${asked} kept as its alias` : ""})`,
  };
}

/** The feature list a peer's payload announces (ours: delivery ACKs); [] for other servers. */
export function featuresOf(payload: Record<string, unknown>): string[] {
  const list = payload.features;
  return Array.isArray(list)
    ? list.filter((f): f is string => typeof f === "string").slice(0, 16)
    : [];
}

/** SERVER_WELCOME for joiner `id`: every server we know but it, ourselves included (§3.1.2). */
function welcomeSend(
  state: RouterState,
  config: RouterConfig,
  { id, link, at_ms }: { id: string; link: string; at_ms: number },
): Effect {
  const me = state.server_id;
  const entries = [...state.server_keys].filter(([s]) => s !== id).flatMap(([s, key]) => {
    const addr = s === me ? config.advertise : state.server_addrs.get(s);
    // Features ride along, so the joiner knows at once which peers re-sync by digest.
    const features = s === me
      ? [...ourFeatures(config)]
      : [...state.delivery.features.get(s) ?? []];
    return addr
      ? [{ server_id: s, user_id: s, host: addr.host, port: addr.port, pubkey: key, features }]
      : [];
  });
  if (!state.server_keys.has(me)) {
    entries.unshift(
      {
        server_id: me,
        user_id: me,
        ...config.advertise,
        pubkey: state.server_pub,
        features: [...ourFeatures(config)],
      },
    );
  }
  // Both list keys, entries with both id keys (§15 P9).
  return {
    type: "Send",
    link,
    frame: {
      type: "SERVER_WELCOME",
      from: me,
      to: id,
      ts: at_ms,
      payload: {
        assigned_id: id,
        servers: entries,
        clients: entries,
        features: [...ourFeatures(config)],
      },
    },
  };
}

/** We dialled a pinned server and said SERVER_HELLO_LINK. */
export function onServerDialed(
  state: RouterState,
  input: Input<"ServerDialed">,
  config: RouterConfig,
): Decision {
  const { link, server_id, at_ms } = input;
  if (!state.server_keys.has(server_id)) {
    return dropped(`dialled server ${server_id} is not pinned`, [{
      type: "Close",
      link,
      code: 1000,
      reason: "not pinned",
    }]);
  }
  const linked = adopt(state, config, { server: server_id, link, outbound: true, at_ms });
  if (!linked) {
    return dropped(`duplicate link to ${server_id}: keeping the one it dialled`, [{
      type: "Close",
      link,
      code: 1000,
      reason: "duplicate link",
    }]);
  }
  const effects = [...linked.effects, {
    type: "Send" as const,
    link,
    frame: announceFrame(state, config, at_ms),
  }, ...greet(state, config, { server: server_id, link, at_ms })];
  return accepted(linked.events, effects, `linked to ${server_id}`);
}

/** We joined through an introducer: pin everyone it listed, dial them, announce ourselves. */
export function onWelcomed(
  state: RouterState,
  input: Input<"Welcomed">,
  config: RouterConfig,
): Decision {
  const { link, introducer, at_ms } = input;
  const events: RouterEvent[] = [...pinIfChanged(state, introducer, at_ms)];
  const linked = adopt(state, config, {
    server: introducer.server_id,
    link,
    outbound: true,
    at_ms,
    announced: introducer.features,
  });
  const effects: Effect[] = [];
  if (linked) {
    events.push(...linked.events);
    effects.push(
      ...linked.effects,
      {
        type: "Send",
        link,
        frame: announceFrame(state, config, at_ms),
      },
      ...greet(state, config, {
        server: introducer.server_id,
        link,
        at_ms,
        announced: introducer.features,
      }),
    );
  } else {
    // The introducer dialled us meanwhile and that link wins; its list still tells us whom to
    // link to (and they hear of us when we do).
    effects.push({ type: "Close", link, code: 1000, reason: "duplicate link" });
  }
  for (const entry of input.servers) {
    if (entry.server_id === state.server_id || entry.server_id === introducer.server_id) continue;
    if (distrust(state, config, entry.server_id, entry.pubkey) !== undefined) continue;
    events.push(...pinIfChanged(state, entry, at_ms));
    if (!state.servers.has(entry.server_id)) {
      effects.push({ type: "Dial", server_id: entry.server_id });
    }
  }
  return accepted(
    events,
    effects,
    `joined through ${introducer.server_id}${linked ? "" : " (over a duplicate link, closed)"}`,
  );
}

/** A server link closed: forget the users we only knew through it and try to link again. */
export function onServerLinkClosed(
  state: RouterState,
  server: string,
  input: Input<"LinkClosed">,
  config: RouterConfig,
): Decision {
  const events: RouterEvent[] = [{
    type: "ServerUnlinked",
    server_id: server,
    link: input.link,
    at_ms: input.at_ms,
    reason: input.reason,
  }];
  // Users of a dead server are removed at once (not kept stale): delivery to them would fail,
  // and the server re-advertises them when the link comes back (§3.1.3 greeting).
  const forgotten = forgetUsersOf(state, server, input.at_ms, direct(state, config, server));
  events.push(...forgotten.events);
  const effects: Effect[] = [...forgotten.effects, { type: "Dial", server_id: server }];
  return accepted(events, effects, `server ${server} unlinked: ${input.reason}`);
}

/** A verified frame on a server link. */
export function onFromServer(
  state: RouterState,
  input: Input<"FromServer">,
  config: RouterConfig,
): Decision {
  const { frame, at_ms } = input;
  const via = serverOfLink(state, input.link);
  if (via === undefined) return dropped(`link ${input.link} is not a linked server`);
  if (frame.type === "HEARTBEAT") return accepted([], [], "heartbeat");
  if (frame.ts < state.seen_floor_ms || frame.ts > at_ms + SEEN_WINDOW_MS) {
    return dropped(
      `stale ts ${frame.ts}: outside the window the seen_ids cache covers (${state.seen_floor_ms}..${
        at_ms + SEEN_WINDOW_MS
      })`,
    );
  }
  // Presence of a server we are linked to counts only as it says it on that link, where its
  // frames arrive in order: a relayed copy may be older than what the link already said, so
  // it is ignored (neither seen nor relayed), and the copy on the link is handled even when a
  // relayed one came first (what relays told us was forgotten when the link came up).
  const presence = frame.type === "USER_ADVERTISE" || frame.type === "USER_REMOVE";
  if (presence && via !== frame.from && state.servers.has(frame.from)) {
    return dropped(`relayed ${frame.type} of ${frame.from} ignored: we hear it on its own link`);
  }
  const key = seenKey(frame);
  if (state.seen_ids.has(key) && !(presence && via === frame.from)) {
    // A re-sent delivery (its first ACK was lost): harmless, and ACKed again so it is retired.
    const reAck = frame.type === "SERVER_DELIVER"
      ? deliveryAck(state, input, frame, "duplicate")
      : [];
    return dropped(`duplicate: seen id ${key.slice(0, 80)}... already handled`, reAck);
  }
  const seen: RouterEvent = { type: "FrameSeen", key, ts: frame.ts, at_ms };
  switch (frame.type) {
    case "USER_ADVERTISE":
      return onAdvertise(state, { input, frame, via, seen }, gossip(state, config, { input, via }));
    case "USER_REMOVE":
      return onRemove(state, { input, frame, via, seen }, gossip(state, config, { input, via }));
    case "SERVER_ANNOUNCE":
      return onAnnounce(state, { input, frame, via, seen }, config);
    case "SERVER_DELIVER":
      return onServerDeliver(state, { input, frame, via, seen });
    case "PUBLIC_CHANNEL_ADD":
    case "PUBLIC_CHANNEL_UPDATED":
    case "PUBLIC_CHANNEL_KEY_SHARE":
      return onPublicChannelFrame(state, input, seen, gossip(state, config, { input, via }));
    case "GOSSIP_DIGEST":
      return onDigest(state, { input, frame, via, seen });
    case "GOSSIP_REQUEST":
      return onRequest(state, { input, frame, via, seen });
    case "MSG_PUBLIC_CHANNEL":
    case "FILE_START":
    case "FILE_CHUNK":
    case "FILE_END":
      return onServerContent(state, input, seen);
    case "ACK":
      return onAck(state, frame, seen, at_ms);
    case "ERROR":
    case "SERVER_HELLO_LINK":
    case "PEER_HELLO_LINK":
    case "SERVER_HELLO_JOIN":
    case "SERVER_WELCOME":
      return accepted([seen], [], `${frame.type} from ${frame.from} noted`);
    default:
      return dropped(`type ${frame.type} is not accepted on a server link`);
  }
}

/** A peer acknowledged deliveries we kept for it: they leave its outbox (our extension). */
function onAck(
  state: RouterState,
  frame: FrameOf<"ACK">,
  seen: RouterEvent,
  at_ms: number,
): Decision {
  const { msg_ref, msg_refs } = frame.payload;
  const retired = acknowledged(state.delivery, {
    queue: "server",
    owner: frame.from,
    refs: [String(msg_ref), ...(msg_refs ?? [])],
    at_ms,
  });
  return accepted(
    [seen, ...retired],
    [],
    retired.length > 0 ? `delivery acknowledged by ${frame.from}` : `ACK from ${frame.from} noted`,
  );
}

function toLocalUsers(state: RouterState, text: string): Effect[] {
  return [...state.local_users.values()].map((link) => ({ type: "Relay" as const, link, text }));
}

function onAdvertise(
  state: RouterState,
  m: FromServerFrame<"USER_ADVERTISE">,
  relays: Effect[],
): Decision {
  const { input, frame, seen } = m;
  const { user_id, server_id } = frame.payload;
  // A server may only speak for users it hosts itself.
  if (server_id !== frame.from) {
    return dropped(
      `USER_ADVERTISE from ${frame.from} names server ${server_id}: a server may advertise only its own users`,
    );
  }
  const meta = { ...(frame.payload.meta ?? {}) };
  delete (meta as Record<string, unknown>).pubkey;
  const located: RouterEvent = {
    type: "UserLocated",
    user_id,
    server_id,
    pubkey: input.pubkey,
    meta,
    advertise: input.raw,
    at_ms: input.at_ms,
  };
  if (state.local_users.has(user_id)) {
    // Connected here too (or still, over a link not yet known dead): the claim is kept for
    // when the user's link here closes.
    return accepted(
      [seen, located],
      relays,
      `advertise of ${user_id} noted: connected here`,
    );
  }
  return accepted([seen, located], [
    ...relays,
    ...toLocalUsers(state, input.raw),
  ], `user ${user_id} is on ${server_id}`);
}

function onRemove(
  state: RouterState,
  m: FromServerFrame<"USER_REMOVE">,
  relays: Effect[],
): Decision {
  const { input, frame, seen } = m;
  const { user_id, server_id } = frame.payload;
  if (server_id !== frame.from) {
    return dropped(
      `USER_REMOVE from ${frame.from} names server ${server_id}: a server may remove only its own users`,
    );
  }
  // It takes back only its own claim: a later advertise from elsewhere wins (§3.2.2).
  if (!state.user_claims.get(user_id)?.has(server_id)) {
    return accepted(
      [seen],
      relays,
      `remove of ${user_id} ignored: not claimed by ${server_id}`,
    );
  }
  const events: RouterEvent[] = [seen, {
    type: "UserUnlocated",
    user_id,
    server_id,
    at_ms: input.at_ms,
  }];
  const located = state.user_locations.get(user_id) === server_id;
  return accepted(
    events,
    [
      ...relays,
      ...(located
        ? [...toLocalUsers(state, input.raw), ...toLocalUsersNextClaim(state, user_id, server_id)]
        : []),
    ],
    located ? `user ${user_id} left ${server_id}` : `claim of ${server_id} on ${user_id} dropped`,
  );
}

function onAnnounce(
  state: RouterState,
  m: FromServerFrame<"SERVER_ANNOUNCE">,
  config: RouterConfig,
): Decision {
  const { input, frame, via, seen } = m;
  const id = frame.from;
  if (id === state.server_id) return accepted([seen], [], "our own announce came back");
  if (input.pubkey === "") return dropped(`SERVER_ANNOUNCE from ${id} carries no valid key`);
  const why = distrust(state, config, id, input.pubkey);
  if (why !== undefined) return dropped(`SERVER_ANNOUNCE from ${id} refused: ${why}`);
  const pinned = pinIfChanged(state, {
    server_id: id,
    host: frame.payload.host,
    port: frame.payload.port,
    pubkey: input.pubkey,
    features: featuresOf(frame.payload),
  }, input.at_ms);
  const events = [seen, ...pinned];
  const effects = gossip(state, config, { input, via, news: pinned.length > 0 });
  const link = state.servers.get(id)?.link;
  if (link === undefined) effects.push({ type: "Dial", server_id: id });
  else if (direct(state, config, id) && !direct(state, config, id, featuresOf(frame.payload))) {
    // It no longer announces the flag (a dialled peer says so only now): greet it in full.
    effects.push(
      ...greet(state, config, {
        server: id,
        link,
        at_ms: input.at_ms,
        announced: featuresOf(frame.payload),
      }),
    );
  }
  return accepted(
    events,
    effects,
    `server ${id} announced at ${frame.payload.host}:${frame.payload.port}`,
  );
}

/** The original ts of a forwarded message: the envelope's, unless a peer kept it in the payload (§15 P6). */
function originalTs(frame: FrameOf<"SERVER_DELIVER">): number {
  const p = frame.payload as Record<string, unknown>;
  for (const key of ["orig_ts", "msg_ts", "ts"]) {
    if (typeof p[key] === "number") return p[key] as number;
  }
  return frame.ts;
}

function onServerDeliver(
  state: RouterState,
  m: FromServerFrame<"SERVER_DELIVER">,
): Decision {
  const { input, frame, via, seen } = m;
  const { user_id, sender, inner_type } = frame.payload;
  const me = state.server_id;
  const ack = (status: string) => deliveryAck(state, input, frame, status);
  if (inner_type === "MSG_RECEIPT") return receiptToUser(state, input, frame, seen);
  const local = userFrame(me, frame);
  if ("refused" in local) return dropped(local.refused);
  const localLink = state.local_users.get(user_id);
  if (localLink !== undefined) {
    const effect: Effect = "send" in local
      ? { type: "Send", link: localLink, frame: local.send }
      : { type: "Relay", link: localLink, text: local.relay };
    return accepted([seen], [effect, ...ack("delivered")], `delivered to local user ${user_id}`);
  }
  const where = state.user_locations.get(user_id);
  const next = where === undefined ? undefined : state.servers.get(where);
  if (where !== undefined && next !== undefined && where !== via && where !== frame.from) {
    return accepted([seen], [
      { type: "Relay", link: next.link, text: input.raw },
      ...ack("forwarded"),
    ], `forwarded unchanged to ${where}`);
  }
  if (state.users.has(user_id)) {
    // Registered here but offline: it waits for the user's next hello (reliable delivery).
    const item = {
      ref: messageRef(sender ?? "", user_id, originalTs(frame)),
      sender: sender ?? "",
      bytes: input.raw.length,
      ...local,
    };
    const queued = queueForUser(state.delivery, user_id, item, input.at_ms);
    if (queued.refusal === undefined) {
      return accepted(
        [seen, ...queued.events],
        ack("queued"),
        `user ${user_id} is offline: queued`,
      );
    }
    return accepted([seen, ...queued.events], [{
      type: "Send",
      link: input.link,
      frame: errorFrame(me, frame.from, input.at_ms, "USER_NOT_FOUND", queued.refusal),
    }], `USER_NOT_FOUND: ${queued.refusal}`);
  }
  const detail = `user ${user_id} is not on this server and has no known route`;
  return accepted([seen], [{
    type: "Send",
    link: input.link,
    frame: errorFrame(me, frame.from, input.at_ms, "USER_NOT_FOUND", detail),
  }], `USER_NOT_FOUND: ${detail}`);
}

/** Our peers learn that we took the frame, so they can retire it from their outbox. */
function deliveryAck(
  state: RouterState,
  input: Input<"FromServer">,
  frame: FrameOf<"SERVER_DELIVER">,
  status: string,
): Effect[] {
  return has(state.delivery, frame.from, FEATURE_DELIVERY_ACKS)
    ? [{
      type: "Send",
      link: input.link,
      frame: {
        type: "ACK",
        from: state.server_id,
        to: frame.from,
        ts: input.at_ms,
        payload: { msg_ref: seenKey(frame), status },
      },
    }]
    : [];
}

/** A receipt from the recipient's server, for one of our users (our extension). */
function receiptToUser(
  state: RouterState,
  input: Input<"FromServer">,
  frame: FrameOf<"SERVER_DELIVER">,
  seen: RouterEvent,
): Decision {
  const { user_id, sender } = frame.payload;
  const me = state.server_id;
  const link = state.local_users.get(user_id);
  const receipt: UnsignedFrame<"MSG_RECEIPT"> = {
    type: "MSG_RECEIPT",
    from: me,
    to: user_id,
    ts: input.at_ms,
    payload: {
      msg_ref: String(frame.payload.msg_ref),
      status: String(frame.payload.status),
      recipient: sender,
    },
  };
  const effects: Effect[] = link !== undefined && has(state.delivery, user_id, FEATURE_RECEIPTS)
    ? [{ type: "Send", link, frame: receipt }]
    : [];
  return accepted([seen], effects, `receipt for ${user_id}`);
}

/** What the user gets: the rebuilt original frame, or a USER_DELIVER for a DM. */
function userFrame(
  me: string,
  frame: FrameOf<"SERVER_DELIVER">,
): { send: UnsignedFrame } | { relay: string } | { refused: string } {
  const { user_id, ciphertext, sender, sender_pub, content_sig, inner_type } = frame.payload;
  if (inner_type !== undefined && inner_type !== "MSG_DIRECT") {
    const text = unwrapContent(frame, originalTs(frame));
    if (text === undefined) {
      return { refused: `SERVER_DELIVER with unsupported inner_type ${inner_type}` };
    }
    return { relay: text };
  }
  if (!ciphertext || !sender || !sender_pub || !content_sig) {
    return { refused: "SERVER_DELIVER lacks ciphertext, sender, sender_pub or content_sig" };
  }
  const deliver: UnsignedFrame<"USER_DELIVER"> = {
    type: "USER_DELIVER",
    from: me,
    to: user_id,
    ts: originalTs(frame),
    payload: { ciphertext, sender, sender_pub, content_sig },
  };
  return { send: deliver };
}
