/**
 * route_to_user (spec §4) with reliable delivery: a local user gets the message now; a user on a
 * linked server gets a SERVER_DELIVER (kept in that server's outbox until it ACKs, if it is one
 * of ours); an offline user registered here, or one whose server is unreachable, gets the
 * message queued; only an id nobody knows is USER_NOT_FOUND. Pure.
 * @module
 */
import type { Frame } from "../../protocol/mod.ts";
import type { QueuedDelivery, RouterEvent } from "../../store/events.ts";
import { has, queueForServer, queueForUser, sendItem } from "./router_delivery.ts";
import { FEATURE_DELIVERY_ACKS } from "../../protocol/features.ts";
import { messageRef } from "../../protocol/message_ref.ts";
import {
  accepted,
  type Decision,
  dropped,
  type Effect,
  errorFrame,
  type RouterInput,
  seenKey,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";

/** A message on its way to one user. */
export interface Outgoing {
  recipient: string;
  sender: string;
  /** The original ts (content_sig covers it). */
  ts: number;
  /** What the recipient's link gets: a frame we sign, or the original frame unchanged. */
  local: { send: UnsignedFrame } | { relay: string };
  /** The SERVER_DELIVER payload for a hop to the recipient's server (without `user_id`). */
  remote: Record<string, unknown>;
}

/** How a message was routed. */
export type RouteOutcome =
  | { kind: "delivered" | "forwarded"; detail: string }
  | { kind: "queued"; detail: string }
  | { kind: "not_found"; detail: string };

/** Routes one message; never routes back to `except` (the server it came from). */
export function routeMessage(
  state: RouterState,
  out: Outgoing,
  at_ms: number,
  except?: string,
): Routed {
  const { recipient } = out;
  const localLink = state.local_users.get(recipient);
  if (localLink !== undefined) {
    const effect: Effect = "send" in out.local
      ? { type: "Send", link: localLink, frame: out.local.send }
      : { type: "Relay", link: localLink, text: out.local.relay };
    return {
      events: [],
      effects: [effect],
      outcome: { kind: "delivered", detail: `delivered to local user ${recipient}` },
    };
  }
  const where = state.user_locations.get(recipient);
  const home = where ?? state.delivery.homes.get(recipient);
  if (
    home !== undefined && home !== state.server_id && home !== except && state.server_keys.has(home)
  ) {
    return toHomeServer(state, out, home, at_ms);
  }
  if (state.users.has(recipient)) {
    return queueForRecipient(state, out, at_ms);
  }
  const detail = where === undefined
    ? `user ${recipient} is not known on this network`
    : `user ${recipient} is on server ${where}, which is unreachable`;
  return { events: [], effects: [], outcome: { kind: "not_found", detail } };
}

/** What routing one message decided. */
type Routed = { events: RouterEvent[]; effects: Effect[]; outcome: RouteOutcome };

/** Forwards to the recipient's home server, or keeps the frame for it (our extension). */
function toHomeServer(state: RouterState, out: Outgoing, home: string, at_ms: number): Routed {
  const { recipient } = out;
  const frame: UnsignedFrame<"SERVER_DELIVER"> = {
    type: "SERVER_DELIVER",
    from: state.server_id,
    to: home,
    ts: out.ts,
    payload: { user_id: recipient, ...out.remote },
  };
  const link = state.servers.get(home)?.link;
  const acks = has(state.delivery, home, FEATURE_DELIVERY_ACKS);
  if (link !== undefined && !acks) {
    return {
      events: [],
      effects: [{ type: "Send", link, frame }],
      outcome: { kind: "forwarded", detail: `forwarded to server ${home}` },
    };
  }
  // Kept until the server ACKs it (ours) or until a link exists to send it on.
  const item: QueuedDelivery = {
    ref: seenKey({ ...frame, sig: "" } as Frame),
    sender: out.sender,
    bytes: JSON.stringify(frame).length,
    send: frame,
  };
  const queued = queueForServer(state.delivery, home, item, at_ms);
  if (queued.refusal) {
    return {
      events: queued.events,
      effects: [],
      outcome: { kind: "not_found", detail: queued.refusal },
    };
  }
  if (link !== undefined) {
    return {
      events: queued.events,
      effects: [sendItem(link, item)],
      outcome: {
        kind: "forwarded",
        detail: `forwarded to server ${home} (kept until it acknowledges)`,
      },
    };
  }
  return {
    events: queued.events,
    effects: [],
    outcome: {
      kind: "queued",
      detail: `server ${home} of user ${recipient} is unreachable: queued until it is back`,
    },
  };
}

/** Queues for a user registered here but offline (our extension). */
function queueForRecipient(state: RouterState, out: Outgoing, at_ms: number): Routed {
  const { recipient } = out;
  const item: QueuedDelivery = {
    ref: messageRef(out.sender, recipient, out.ts),
    sender: out.sender,
    bytes: "send" in out.local ? JSON.stringify(out.local.send).length : out.local.relay.length,
    ...("send" in out.local ? { send: out.local.send } : { relay: out.local.relay }),
  };
  const queued = queueForUser(state.delivery, recipient, item, at_ms);
  if (queued.refusal) {
    return {
      events: queued.events,
      effects: [],
      outcome: { kind: "not_found", detail: queued.refusal },
    };
  }
  return {
    events: queued.events,
    effects: [],
    outcome: {
      kind: "queued",
      detail: `user ${recipient} is offline: queued until they connect`,
    },
  };
}

/** The ACK a sender gets when its message was queued rather than delivered (our extension). */
export function queuedAck(
  { me, sender, recipient, ts, at_ms, detail }: {
    me: string;
    sender: string;
    recipient: string;
    /** The message's own `ts` (part of its ref). */
    ts: number;
    at_ms: number;
    detail: string;
  },
): UnsignedFrame<"ACK"> {
  return {
    type: "ACK",
    from: me,
    to: sender,
    ts: at_ms,
    payload: { msg_ref: messageRef(sender, recipient, ts), status: "queued", detail },
  };
}

/** The sender hears USER_NOT_FOUND, or (our extension) an ACK saying the message was queued. */
export function answerSender(
  state: RouterState,
  input: Extract<RouterInput, { type: "FromUser" }>,
  frame: { from: string; to: string; ts: number },
  routed: ReturnType<typeof routeMessage>,
): Decision {
  const { outcome } = routed;
  const me = state.server_id;
  if (outcome.kind === "not_found") {
    return dropped(`USER_NOT_FOUND: ${outcome.detail}`, [
      ...routed.effects,
      {
        type: "Send",
        link: input.link,
        frame: errorFrame(me, frame.from, input.at_ms, "USER_NOT_FOUND", outcome.detail),
      },
    ]);
  }
  const effects = [...routed.effects];
  if (outcome.kind === "queued") {
    effects.push({
      type: "Send",
      link: input.link,
      frame: queuedAck({
        me,
        sender: frame.from,
        recipient: frame.to,
        ts: frame.ts,
        at_ms: input.at_ms,
        detail: outcome.detail,
      }),
    });
  }
  return accepted(routed.events, effects, outcome.detail);
}
