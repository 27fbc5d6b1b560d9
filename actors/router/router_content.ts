/**
 * Routing of user content other than DMs (§3.7, §3.8, §15 P6, P11, P12): public-channel
 * messages and file frames, which servers route without reading, and the public channel's
 * membership and key versions. Pure, like the rest of `decide`.
 * @module
 */
import type { Frame, FrameType } from "../../protocol/mod.ts";
import { PUBLIC_CHANNEL_WRAPS_PER_FRAME } from "../../protocol/limits.ts";
import type { RouterEvent } from "../../store/events.ts";
import {
  accepted,
  type Decision,
  dropped,
  type Effect,
  type Input,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";
import { answerSender, routeMessage } from "./router_route.ts";

/** Frame types a user sends that servers carry opaquely to other users. */
export const CONTENT_TYPES: ReadonlySet<FrameType> = new Set([
  "MSG_PUBLIC_CHANNEL",
  "FILE_START",
  "FILE_CHUNK",
  "FILE_END",
]);

/** `to` values that mean "every member of the public channel" (§3.7.4 DF). */
const PUBLIC_TARGETS = new Set(["public", "*", "g-public"]);

/** A content frame from a local user: relayed unchanged to local recipients, wrapped to remote ones. */
export function onUserContent(state: RouterState, input: Input<"FromUser">): Decision {
  const { frame } = input;
  // Non-DM content crosses servers inside SERVER_DELIVER with inner_type (§15 P6).
  const remote = { ...frame.payload, sender: frame.from, inner_type: frame.type };
  const toOne = (user: string) =>
    routeMessage(state, {
      recipient: user,
      sender: frame.from,
      ts: frame.ts,
      local: { relay: input.raw },
      remote,
    }, input.at_ms);
  if (!PUBLIC_TARGETS.has(frame.to)) {
    // One recipient: delivered, forwarded, queued while offline, or USER_NOT_FOUND.
    return answerSender(state, input, frame, toOne(frame.to));
  }
  const events: RouterEvent[] = [];
  const effects: Effect[] = [];
  const targets = [...state.user_locations.keys()].filter((u) => u !== frame.from);
  for (const user of targets) {
    const routed = toOne(user);
    events.push(...routed.events);
    effects.push(...routed.effects);
  }
  return accepted(events, effects, `${frame.type} routed to ${targets.length} user(s)`);
}

/** A SERVER_DELIVER carrying `inner_type` content, for a local user: rebuilt as the original frame. */
export function unwrapContent(
  frame: Extract<Frame, { type: "SERVER_DELIVER" }>,
  ts: number,
): string | undefined {
  const { user_id, sender, inner_type, ...rest } = frame.payload;
  if (
    inner_type === undefined || !CONTENT_TYPES.has(inner_type as FrameType) || sender === undefined
  ) return undefined;
  // The user's own signature did not survive the hop; content_sig and the file hash still do.
  return JSON.stringify({
    type: inner_type,
    from: sender,
    to: user_id,
    ts,
    payload: rest,
    sig: "",
  });
}

/** A raw content frame over a server link (§15 P6 accept): for local users only, never forwarded. */
export function onServerContent(
  state: RouterState,
  input: Input<"FromServer">,
  seen: RouterEvent,
): Decision {
  const { frame } = input;
  const targets = PUBLIC_TARGETS.has(frame.to)
    ? [...state.local_users.keys()].filter((u) => u !== frame.from)
    : [frame.to];
  const effects: Effect[] = [];
  for (const user of targets) {
    const link = state.local_users.get(user);
    if (link !== undefined) effects.push({ type: "Relay", link, text: input.raw });
  }
  return accepted(
    [seen],
    effects,
    `raw ${input.frame.type} delivered to ${effects.length} local user(s)`,
  );
}

/** A local user arrived: the public channel gains a member, everyone hears of it, keys rotate. */
export function joinPublicChannel(
  state: RouterState,
  user: string,
  at_ms: number,
): { events: RouterEvent[]; effects: Effect[] } {
  const events: RouterEvent[] = state.public_channel.members.has(user)
    ? []
    : [{ type: "PublicChannelJoined", members: [user], at_ms }];
  const add: UnsignedFrame<"PUBLIC_CHANNEL_ADD"> = {
    type: "PUBLIC_CHANNEL_ADD",
    from: state.server_id,
    to: "*",
    ts: at_ms,
    payload: { add: [user], if_version: state.public_channel.version },
  };
  const effects: Effect[] = [...state.servers.values()].map(({ link }) => ({
    type: "Send" as const,
    link,
    frame: add,
  }));
  effects.push({ type: "Rekey" });
  return { events, effects };
}

/** The shell prepared a rekey: record it, announce the wraps, hand members their shares. */
export function onRekeyed(state: RouterState, input: Input<"Rekeyed">): Decision {
  if (input.version <= state.public_channel.version) {
    return dropped(
      `rekey to version ${input.version} is stale (now ${state.public_channel.version})`,
      [{ type: "Rekey" }],
    );
  }
  const events: RouterEvent[] = [{
    type: "PublicChannelRekeyed",
    version: input.version,
    wraps: input.wraps,
    at_ms: input.at_ms,
  }];
  const effects: Effect[] = [];
  for (let i = 0; i < input.wraps.length || i === 0; i += PUBLIC_CHANNEL_WRAPS_PER_FRAME) {
    const updated: UnsignedFrame<"PUBLIC_CHANNEL_UPDATED"> = {
      type: "PUBLIC_CHANNEL_UPDATED",
      from: state.server_id,
      to: "*",
      ts: input.at_ms,
      payload: {
        version: input.version,
        wraps: input.wraps.slice(i, i + PUBLIC_CHANNEL_WRAPS_PER_FRAME),
      },
    };
    for (const { link } of state.servers.values()) {
      effects.push({ type: "Send", link, frame: updated });
    }
  }
  for (const share of input.shares) {
    const frame: UnsignedFrame = {
      type: "PUBLIC_CHANNEL_KEY_SHARE",
      from: state.server_id,
      to: "*",
      ts: input.at_ms,
      payload: share.payload,
    };
    for (const member of share.members) {
      const link = state.local_users.get(member);
      if (link !== undefined) effects.push({ type: "Send", link, frame });
    }
  }
  return accepted(
    events,
    effects,
    `public channel at version ${input.version} (${input.wraps.length} wraps)`,
  );
}

/** PUBLIC_CHANNEL_ADD / _UPDATED / _KEY_SHARE from another server. */
export function onPublicChannelFrame(
  state: RouterState,
  input: Input<"FromServer">,
  seen: RouterEvent,
  forward: Effect[],
): Decision {
  const { frame, at_ms } = input;
  switch (frame.type) {
    case "PUBLIC_CHANNEL_ADD": {
      const fresh = frame.payload.add.filter((m) => !state.public_channel.members.has(m));
      const events: RouterEvent[] = [seen];
      if (fresh.length > 0) events.push({ type: "PublicChannelJoined", members: fresh, at_ms });
      return accepted(events, forward, `public channel: ${fresh.length} new member(s)`);
    }
    case "PUBLIC_CHANNEL_UPDATED": {
      const wraps = frame.payload.wraps.map((w) => ({
        member_id: w.member_id,
        wrapped_key: w.wrapped_key,
      }));
      return accepted(
        [seen, { type: "PublicChannelRekeyed", version: frame.payload.version, wraps, at_ms }],
        forward,
        `public channel version ${frame.payload.version} from ${frame.from}`,
      );
    }
    case "PUBLIC_CHANNEL_KEY_SHARE": {
      const effects = [...forward];
      for (const share of frame.payload.shares) {
        const link = state.local_users.get(share.member);
        if (link !== undefined) effects.push({ type: "Relay", link, text: input.raw });
      }
      return accepted([seen], effects, `key share relayed`);
    }
    default:
      return dropped(`not a public channel frame: ${frame.type}`);
  }
}
