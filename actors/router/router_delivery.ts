/**
 * Reliable delivery (our extension; SOCP itself only drops or answers USER_NOT_FOUND). A message
 * for a user registered here but offline waits in that user's queue; a frame for a server whose
 * link is down, or for one of our servers that acknowledges deliveries, waits in that server's
 * outbox until the link is back and, for servers that ACK, until they do. Everything is an
 * event, so queues survive a crash, and the receiver's `seen_ids` (also in the log) makes a
 * re-send harmless. Peers and clients that know nothing of this see only standard frames.
 * Pure, like the rest of `decide`.
 * @module
 */
import {
  OFFLINE_QUEUE_AGE_MS_MAX,
  OFFLINE_QUEUE_BYTES_MAX,
  OFFLINE_QUEUE_MESSAGES_MAX,
  SERVER_OUTBOX_MESSAGES_MAX,
} from "../../protocol/limits.ts";
import type { QueuedDelivery, RouterEvent } from "../../store/events.ts";
import type { Effect, UnsignedFrame } from "./router_messages.ts";
import {
  FEATURE_ACK_BATCHES,
  FEATURE_DELIVERY_ACKS,
  FEATURE_GOSSIP_DIRECT,
  FEATURE_RECEIPTS,
} from "../../protocol/features.ts";

/** What our servers announce to peers. */
export const OUR_SERVER_FEATURES: string[] = [
  FEATURE_DELIVERY_ACKS,
  FEATURE_ACK_BATCHES,
  FEATURE_GOSSIP_DIRECT,
];

/** A waiting message, as folded from the log. */
export interface QueuedItem extends QueuedDelivery {
  id: number;
  at_ms: number;
}

/** The delivery part of the Router's state. */
export interface DeliveryState {
  /** Next queue entry id (deterministic: bumped by every MessageQueued). */
  next_id: number;
  /** user_id -> messages waiting for that offline user, oldest first. */
  user_queues: Map<string, QueuedItem[]>;
  /** server_id -> frames waiting for (or awaiting the ACK of) that server, oldest first. */
  server_outboxes: Map<string, QueuedItem[]>;
  /** user_id -> the server that last hosted the user: where to queue while it is unreachable. */
  homes: Map<string, string>;
  /** Features announced by local users and linked servers (ephemeral, cleared on restart). */
  features: Map<string, ReadonlySet<string>>;
}

/** The empty delivery state. */
export function initialDeliveryState(): DeliveryState {
  return {
    next_id: 1,
    user_queues: new Map(),
    server_outboxes: new Map(),
    homes: new Map(),
    features: new Map(),
  };
}

/** True when `who` (a local user or a linked server) announced `feature`. */
export function has(delivery: DeliveryState, who: string, feature: string): boolean {
  return delivery.features.get(who)?.has(feature) ?? false;
}

/** Folds a delivery event. */
export function evolveDelivery(delivery: DeliveryState, event: RouterEvent): void {
  switch (event.type) {
    case "MessageQueued": {
      const table = event.queue === "user" ? delivery.user_queues : delivery.server_outboxes;
      const list = table.get(event.owner) ?? [];
      list.push({ ...event.item, id: delivery.next_id++, at_ms: event.at_ms });
      table.set(event.owner, list);
      break;
    }
    case "MessageDequeued": {
      const table = event.queue === "user" ? delivery.user_queues : delivery.server_outboxes;
      const list = (table.get(event.owner) ?? []).filter((item) => !event.ids.includes(item.id));
      if (list.length === 0) table.delete(event.owner);
      else table.set(event.owner, list);
      break;
    }
    case "UserArrived":
      delivery.homes.delete(event.user_id);
      delivery.features.set(event.user_id, new Set(event.features ?? []));
      break;
    case "UserLeft":
      delivery.features.delete(event.user_id);
      break;
    case "UserLocated":
      delivery.homes.set(event.user_id, event.server_id);
      break;
    case "ServerLinked":
      delivery.features.set(event.server_id, new Set(event.features ?? []));
      break;
    case "ServerPinned":
      if (event.features) delivery.features.set(event.server_id, new Set(event.features));
      break;
    default:
      break;
  }
}

/** Queues `item` for an offline local user, or says why it cannot. */
export function queueForUser(
  delivery: DeliveryState,
  user: string,
  item: QueuedDelivery,
  at_ms: number,
): { events: RouterEvent[]; refusal?: string } {
  const list = delivery.user_queues.get(user) ?? [];
  const events: RouterEvent[] = [];
  // Expired entries go first: they would never be delivered anyway.
  const expired = list.filter((i) => at_ms - i.at_ms > OFFLINE_QUEUE_AGE_MS_MAX).map((i) => i.id);
  if (expired.length > 0) {
    events.push({
      type: "MessageDequeued",
      queue: "user",
      owner: user,
      ids: expired,
      reason: "expired",
      at_ms,
    });
  }
  const live = list.filter((i) => !expired.includes(i.id));
  const bytes = live.reduce((n, i) => n + i.bytes, 0);
  if (live.length >= OFFLINE_QUEUE_MESSAGES_MAX) {
    return {
      events,
      refusal:
        `user ${user} is offline and their queue is full (${OFFLINE_QUEUE_MESSAGES_MAX} messages)`,
    };
  }
  if (bytes + item.bytes > OFFLINE_QUEUE_BYTES_MAX) {
    return {
      events,
      refusal: `user ${user} is offline and their queue is full (${OFFLINE_QUEUE_BYTES_MAX} bytes)`,
    };
  }
  events.push({ type: "MessageQueued", queue: "user", owner: user, item, at_ms });
  return { events };
}

/** Queues a frame for a server; `send` also sends it now on `link` (a live link that ACKs). */
export function queueForServer(
  delivery: DeliveryState,
  server: string,
  item: QueuedDelivery,
  at_ms: number,
): { events: RouterEvent[]; refusal?: string } {
  const list = delivery.server_outboxes.get(server) ?? [];
  if (list.length >= SERVER_OUTBOX_MESSAGES_MAX) {
    return {
      events: [],
      refusal: `the outbox for server ${server} is full (${SERVER_OUTBOX_MESSAGES_MAX} frames)`,
    };
  }
  return { events: [{ type: "MessageQueued", queue: "server", owner: server, item, at_ms }] };
}

/** Effects that hand one queued item to a link. */
export function sendItem(link: string, item: QueuedDelivery): Effect {
  return item.relay !== undefined
    ? { type: "Relay", link, text: item.relay }
    : { type: "Send", link, frame: item.send as UnsignedFrame };
}

/**
 * A user arrived: hand over its queue in order. Without receipts the entries go as soon as they
 * are sent; with receipts they stay until the client's ACK.
 */
export function flushUserQueue(
  delivery: DeliveryState,
  { user, link, receipts, at_ms }: { user: string; link: string; receipts: boolean; at_ms: number },
): { events: RouterEvent[]; effects: Effect[]; expired: QueuedItem[] } {
  const list = delivery.user_queues.get(user) ?? [];
  const expired = list.filter((i) => at_ms - i.at_ms > OFFLINE_QUEUE_AGE_MS_MAX);
  const live = list.filter((i) => at_ms - i.at_ms <= OFFLINE_QUEUE_AGE_MS_MAX);
  const events: RouterEvent[] = [];
  if (expired.length > 0) {
    events.push({
      type: "MessageDequeued",
      queue: "user",
      owner: user,
      ids: expired.map((i) => i.id),
      reason: "expired",
      at_ms,
    });
  }
  if (!receipts && live.length > 0) {
    events.push({
      type: "MessageDequeued",
      queue: "user",
      owner: user,
      ids: live.map((i) => i.id),
      reason: "sent",
      at_ms,
    });
  }
  return { events, effects: live.map((item) => sendItem(link, item)), expired };
}

/** A linked server: send its outbox in order; entries for servers that never ACK go at once. */
export function flushServerOutbox(
  delivery: DeliveryState,
  { server, link, acks, at_ms }: { server: string; link: string; acks: boolean; at_ms: number },
): { events: RouterEvent[]; effects: Effect[] } {
  const list = delivery.server_outboxes.get(server) ?? [];
  const events: RouterEvent[] = [];
  if (!acks && list.length > 0) {
    events.push({
      type: "MessageDequeued",
      queue: "server",
      owner: server,
      ids: list.map((i) => i.id),
      reason: "sent",
      at_ms,
    });
  }
  return { events, effects: list.map((item) => sendItem(link, item)) };
}

/** Entries of a queue acknowledged by `ref` (a message ref for users, a seen id for servers). */
export function acknowledged(
  delivery: DeliveryState,
  { queue, owner, refs, at_ms }: {
    queue: "user" | "server";
    owner: string;
    refs: readonly string[];
    at_ms: number;
  },
): RouterEvent[] {
  const table = queue === "user" ? delivery.user_queues : delivery.server_outboxes;
  const wanted = new Set(refs);
  const ids = (table.get(owner) ?? []).filter((i) => wanted.has(i.ref)).map((i) => i.id);
  return ids.length === 0
    ? []
    : [{ type: "MessageDequeued", queue, owner, ids, reason: "acknowledged", at_ms }];
}

/**
 * A delivery receipt for `sender` (our extension), only where it will be understood: to a local
 * sender whose client announced receipts, or through one of our servers to a remote one.
 */
export function receiptEffects(
  state: {
    server_id: string;
    local_users: Map<string, string>;
    user_locations: Map<string, string>;
    servers: Map<string, { link: string }>;
    delivery: DeliveryState;
  },
  { sender, recipient, ref, status, at_ms }: {
    sender: string;
    recipient: string;
    ref: string;
    status: "delivered" | "expired";
    at_ms: number;
  },
): Effect[] {
  const payload = { msg_ref: ref, status, recipient };
  const local = state.local_users.get(sender);
  if (local !== undefined) {
    return has(state.delivery, sender, FEATURE_RECEIPTS)
      ? [{
        type: "Send",
        link: local,
        frame: { type: "MSG_RECEIPT", from: state.server_id, to: sender, ts: at_ms, payload },
      }]
      : [];
  }
  const where = state.user_locations.get(sender);
  const link = where === undefined ? undefined : state.servers.get(where)?.link;
  if (
    where === undefined || link === undefined || !has(state.delivery, where, FEATURE_DELIVERY_ACKS)
  ) return [];
  return [{
    type: "Send",
    link,
    frame: {
      type: "SERVER_DELIVER",
      from: state.server_id,
      to: where,
      ts: at_ms,
      payload: { user_id: sender, inner_type: "MSG_RECEIPT", sender: recipient, ...payload },
    },
  }];
}
