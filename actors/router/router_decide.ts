/**
 * The Router's decisions: pure and synchronous. Given the state and one input, say which events
 * happened and which frames to send. No clock, no randomness, no I/O: time and any fresh id
 * come in the input, so replaying a journal decides exactly the same. This file holds the
 * dispatch and the user side; `router_federation.ts` holds the server side. See ROUTING.md.
 * @module
 */
import { assertNever } from "../../lib/assert.ts";
import type { FrameOf } from "../../protocol/mod.ts";
import { LOCAL_USERS_MAX } from "../../protocol/limits.ts";
import type { RouterEvent, UserMeta } from "../../store/events.ts";
import {
  accepted,
  advertiseFrame,
  type Decision,
  dropped,
  type Effect,
  errorFrame,
  removeFrame,
  type RouterInput,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";
import { answerSender, routeMessage } from "./router_route.ts";
import { DEFAULT_ROUTER_CONFIG, type RouterConfig } from "./router_config.ts";
import { acknowledged, flushUserQueue, receiptEffects } from "./router_delivery.ts";
import { FEATURE_RECEIPTS } from "../../protocol/features.ts";
import { parseMessageRef } from "../../protocol/message_ref.ts";
import {
  onFromServer,
  onServerDialed,
  onServerHello,
  onServerLinkClosed,
  onWelcomed,
  toServers,
} from "./router_federation.ts";
import { CONTENT_TYPES, joinPublicChannel, onRekeyed, onUserContent } from "./router_content.ts";
import { isListRequest, onKeyRequest, onListRequest } from "./router_directory.ts";

/** Decides what one input means. */
export function decide(
  state: RouterState,
  input: RouterInput,
  config: RouterConfig = DEFAULT_ROUTER_CONFIG,
): Decision {
  switch (input.type) {
    case "UserHello":
      return onUserHello(state, input, config);
    case "FromUser":
      return onFromUser(state, input);
    case "ServerHello":
      return onServerHello(state, input, config);
    case "ServerDialed":
      return onServerDialed(state, input, config);
    case "Welcomed":
      return onWelcomed(state, input, config);
    case "FromServer":
      return onFromServer(state, input, config);
    case "LinkClosed":
      return onLinkClosed(state, input, config);
    case "Rekeyed":
      return onRekeyed(state, input);
    case "Refused":
      return dropped(input.reason);
    default:
      return assertNever(input);
  }
}

function onUserHello(
  state: RouterState,
  input: Extract<RouterInput, { type: "UserHello" }>,
  config: RouterConfig,
): Decision {
  const { link, frame, pubkey, at_ms } = input;
  const user = frame.from;
  const me = state.server_id;
  const refuse = (code: "NAME_IN_USE" | "BAD_KEY", detail: string) =>
    dropped(`${code}: ${detail}`, [
      { type: "Send", link, frame: errorFrame(me, user, at_ms, code, detail) },
      { type: "Close", link, code: 1008, reason: code },
    ]);
  if (state.local_users.has(user)) {
    return refuse("NAME_IN_USE", `user id ${user} is already connected`);
  }
  const known = state.users.get(user);
  if (known && known.pubkey !== pubkey) {
    return refuse("BAD_KEY", `user id ${user} is bound to a different key on this server`);
  }
  const usersMax = config.users_max ?? LOCAL_USERS_MAX;
  if (state.local_users.size >= usersMax) {
    return refuse("NAME_IN_USE", `this server is full (${usersMax} users)`);
  }
  const meta = helloMeta(frame);
  const events: RouterEvent[] = [];
  if (!known) events.push({ type: "UserRegistered", user_id: user, pubkey, meta, at_ms });
  const features = (Array.isArray(frame.payload.features) ? frame.payload.features : []).filter((
    f,
  ): f is string => typeof f === "string").slice(0, 16);
  events.push({ type: "UserArrived", user_id: user, link, meta, at_ms, features });

  const effects: Effect[] = [{
    type: "Send",
    link,
    frame: helloAck(state, user, at_ms, known?.login !== undefined),
  }];
  effects.push(
    ...introductions(state, link, advertiseFrame({ me, ts: at_ms, user, pubkey, meta }), at_ms),
  );
  const joined = joinPublicChannel(state, user, at_ms);
  // Then what waited for the user, in order (our reliable-delivery extension).
  const queue = flushUserQueue(state.delivery, {
    user,
    link,
    receipts: features.includes(FEATURE_RECEIPTS),
    at_ms,
  });
  // Senders of messages that waited too long hear so (if their clients take receipts).
  const expired = queue.expired.flatMap((item) =>
    receiptEffects(state, {
      sender: item.sender,
      recipient: user,
      ref: item.ref,
      status: "expired",
      at_ms,
    })
  );
  return accepted(
    [...events, ...joined.events, ...queue.events],
    [...effects, ...joined.effects, ...queue.effects, ...expired],
    `user ${user} connected${
      queue.effects.length > 0 ? `; ${queue.effects.length} queued message(s) handed over` : ""
    }`,
  );
}

/** The answer to an accepted USER_HELLO: who we are, and which of our extensions we offer. */
function helloAck(
  state: RouterState,
  user: string,
  at_ms: number,
  login_registered: boolean,
): UnsignedFrame {
  const me = state.server_id;
  return {
    type: "ACK",
    from: me,
    to: user,
    ts: at_ms,
    payload: {
      msg_ref: "USER_HELLO",
      server_id: me,
      server_pub: state.server_pub,
      // Our extensions, so our clients know what they may use; other clients ignore this.
      features: ["directory", "login"],
      login_registered,
    },
  };
}

/**
 * Tells the newcomer about everyone (itself included), and everyone else about the newcomer.
 * Each user's advertise is replayed as it was made when that user arrived, the way a remote
 * user's signed advertise is relayed: one frame, sealed once, for every newcomer.
 */
function introductions(
  state: RouterState,
  link: string,
  newcomer: UnsignedFrame,
  at_ms: number,
): Effect[] {
  const effects: Effect[] = [];
  for (const [other, otherLink] of state.local_users) {
    const record = state.users.get(other)!;
    effects.push({
      type: "Send",
      link,
      frame: advertiseFrame({
        me: state.server_id,
        ts: record.arrived_at ?? at_ms,
        user: other,
        pubkey: record.pubkey,
        meta: record.meta,
      }),
    });
    effects.push({ type: "Send", link: otherLink, frame: newcomer });
  }
  for (const [other, where] of state.user_locations) {
    const record = state.remote_users.get(other);
    if (where !== "local" && record?.advertise) {
      effects.push({ type: "Relay", link, text: record.advertise });
    }
  }
  effects.push({ type: "Send", link, frame: newcomer });
  effects.push(...toServers(state, newcomer));
  return effects;
}

function onFromUser(
  state: RouterState,
  input: Extract<RouterInput, { type: "FromUser" }>,
): Decision {
  const { link, frame } = input;
  if (state.local_users.get(frame.from) !== link) {
    return dropped(`link ${link} has no accepted USER_HELLO for ${frame.from}`);
  }
  if (CONTENT_TYPES.has(frame.type)) return onUserContent(state, input);
  if (isListRequest(frame)) return onListRequest(state, input);
  switch (frame.type) {
    case "MSG_DIRECT":
      return onMsgDirect(state, input, frame);
    case "PUBKEY_REQUEST":
    case "USER_DB_GET":
      return onKeyRequest(state, input, frame.payload.user_id, frame.type);
    case "LOGIN_REGISTER": {
      const { privkey_store, pake_password } = frame.payload;
      const registered: RouterEvent = {
        type: "UserLoginRegistered",
        user_id: frame.from,
        privkey_store,
        pake_password,
        at_ms: input.at_ms,
      };
      const ack: UnsignedFrame<"ACK"> = {
        type: "ACK",
        from: state.server_id,
        to: frame.from,
        ts: input.at_ms,
        payload: { msg_ref: "LOGIN_REGISTER" },
      };
      return accepted(
        [registered],
        [{ type: "Send", link, frame: ack }],
        `password login registered for ${frame.from}`,
      );
    }
    case "CTRL_CLOSE":
      return accepted(
        [],
        [{ type: "Close", link, code: 1000, reason: "CTRL_CLOSE" }],
        "closed by user",
      );
    case "ACK":
      return onUserAck(
        state,
        input,
        String(frame.payload.msg_ref),
        String(frame.payload.type ?? "USER_DELIVER"),
        frame.payload.receipt === true,
      );
    case "ERROR":
    case "HEARTBEAT":
      return accepted([], [], `${frame.type} noted`);
    default: {
      const detail = `type ${frame.type} is not accepted from a user link`;
      return dropped(`UNKNOWN_TYPE: ${detail}`, [
        {
          type: "Send",
          link,
          frame: errorFrame(state.server_id, frame.from, input.at_ms, "UNKNOWN_TYPE", detail),
        },
      ]);
    }
  }
}

/** route_to_user (§4) for a DM from a local user. */
function onMsgDirect(
  state: RouterState,
  input: Extract<RouterInput, { type: "FromUser" }>,
  frame: FrameOf<"MSG_DIRECT">,
): Decision {
  const me = state.server_id;
  const payload = {
    ciphertext: frame.payload.ciphertext,
    sender: frame.from,
    sender_pub: state.users.get(frame.from)!.pubkey,
    content_sig: frame.payload.content_sig,
  };
  // The original ts and the sender survive every hop, so content_sig can be checked (§15 P6).
  const deliver: UnsignedFrame<"USER_DELIVER"> = {
    type: "USER_DELIVER",
    from: me,
    to: frame.to,
    ts: frame.ts,
    payload,
  };
  const routed = routeMessage(state, {
    recipient: frame.to,
    sender: frame.from,
    ts: frame.ts,
    local: { send: deliver },
    remote: payload,
  }, input.at_ms);
  return answerSender(state, input, frame, routed);
}

function onLinkClosed(
  state: RouterState,
  input: Extract<RouterInput, { type: "LinkClosed" }>,
  config: RouterConfig,
): Decision {
  for (const [user, link] of state.local_users) {
    if (link !== input.link) continue;
    const remove = removeFrame(state.server_id, input.at_ms, user);
    const effects: Effect[] = [];
    for (const [other, otherLink] of state.local_users) {
      if (other !== user) effects.push({ type: "Send", link: otherLink, frame: remove });
    }
    effects.push(...toServers(state, remove));
    return accepted(
      [{ type: "UserLeft", user_id: user, at_ms: input.at_ms, reason: input.reason }],
      effects,
      `user ${user} left`,
    );
  }
  for (const [server, entry] of state.servers) {
    if (entry.link === input.link) return onServerLinkClosed(state, server, input, config);
  }
  return accepted([], [], "link closed before it was accepted");
}

/** A client confirms a delivery: its queue entry goes, and the sender gets a receipt. */
function onUserAck(
  state: RouterState,
  input: Extract<RouterInput, { type: "FromUser" }>,
  ref: string,
  type: string,
  asked: boolean,
): Decision {
  const parsed = parseMessageRef(ref);
  if (!parsed || parsed.recipient !== input.frame.from) return accepted([], [], "ACK noted");
  const events = acknowledged(state.delivery, {
    queue: "user",
    owner: input.frame.from,
    refs: [ref],
    at_ms: input.at_ms,
  });
  // Receipts are for messages. File frames are confirmed one by one (to retire queued copies)
  // but told only where the receiver asks (`receipt: true`: once per window and at the end), so
  // the sender's progress follows the receiver's without a receipt per chunk.
  const told = type === "USER_DELIVER" || type === "MSG_PUBLIC_CHANNEL" ||
    (asked && (type === "FILE_CHUNK" || type === "FILE_END"));
  const effects = told
    ? receiptEffects(state, {
      sender: parsed.sender,
      recipient: input.frame.from,
      ref,
      status: "delivered",
      at_ms: input.at_ms,
    })
    : [];
  return accepted(events, effects, `delivery of ${ref} confirmed`);
}

function helloMeta(frame: FrameOf<"USER_HELLO">): UserMeta {
  const name = frame.payload.meta?.display_name ?? frame.payload.display_name;
  return name === undefined ? {} : { display_name: name };
}
