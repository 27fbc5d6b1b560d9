/**
 * The Router's directory answers: who is online (`/list`, §3.11, in every dialect listed there)
 * and a user's key (`PUBKEY_REQUEST`, and its v1.1 name `USER_DB_GET`). Pure, like `decide`.
 * Every answer is signed by this server on its way out (§15 P5).
 * @module
 */
import type { Frame, FrameType } from "../../protocol/mod.ts";
import {
  accepted,
  type Decision,
  dropped,
  errorFrame,
  type RouterInput,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";

type FromUser = Extract<RouterInput, { type: "FromUser" }>;

/** Each /list request of §3.11 and the answer its dialect expects (ours: LIST_REQUEST). */
export const LIST_DIALECTS: Readonly<Record<string, FrameType>> = {
  LIST_REQUEST: "LIST_RESPONSE",
  USER_LIST_REQ: "USER_LIST",
  LIST_REQ: "LIST_RES",
  CTRL_LIST: "CTRL_LIST_RESP",
  LIST: "LIST",
  CLIENT_CMD: "USER_LIST",
  CLIENT_COMMAND: "LIST",
};

/** True when `frame` asks for the online list in one of the dialects. */
export function isListRequest(frame: Frame): boolean {
  return Object.hasOwn(LIST_DIALECTS, frame.type);
}

/** The command a generic command frame carries ("/list" for a list request). */
function commandOf(frame: Frame): string | undefined {
  if (frame.type === "CLIENT_CMD") return frame.payload.cmd;
  if (frame.type === "CLIENT_COMMAND") return frame.payload.cmd ?? frame.payload.command ?? "/list";
  return "/list";
}

/** Answers a /list request in its dialect: the same sorted `users` and `entries` for all (§15 P8). */
export function onListRequest(state: RouterState, input: FromUser): Decision {
  const { frame, link, at_ms } = input;
  const command = commandOf(frame)!;
  if (command.replace(/^\//, "") !== "list") {
    const detail = `${frame.type} command "${command}" is not supported; only /list is`;
    return dropped(`UNKNOWN_TYPE: ${detail}`, [{
      type: "Send",
      link,
      frame: errorFrame(state.server_id, frame.from, at_ms, "UNKNOWN_TYPE", detail),
    }]);
  }
  const type = LIST_DIALECTS[frame.type]!;
  const answer: UnsignedFrame = {
    type,
    from: state.server_id,
    to: frame.from,
    ts: at_ms,
    payload: listPayload(state),
  };
  const reason = frame.type === "LIST_REQUEST" ? "" : `${frame.type} answered ${type}`;
  return accepted([], [{ type: "Send", link, frame: answer }], reason);
}

/** The list per §15 P8: sorted ids plus entries with keys and labels. */
function listPayload(state: RouterState): { users: string[]; entries: Record<string, unknown>[] } {
  const users = [...state.user_locations.keys()].sort();
  const entries = users.map((user_id) => {
    const where = state.user_locations.get(user_id)!;
    const record = where === "local" ? state.users.get(user_id) : state.remote_users.get(user_id);
    const entry: Record<string, unknown> = {
      user_id,
      server_id: where === "local" ? state.server_id : where,
    };
    if (record?.meta.display_name !== undefined) entry.display_name = record.meta.display_name;
    if (record?.pubkey) entry.pubkey = record.pubkey;
    return entry;
  });
  return { users, entries };
}

/**
 * The directory (spec §13): a user's key, signed by this server through the frame's `sig`.
 * `PUBKEY_REQUEST` gets our `PUBKEY_RESPONSE`; `USER_DB_GET` the `USER_DB_USER {user_id, pubkey}`
 * its dialect expects, from the same record.
 */
export function onKeyRequest(
  state: RouterState,
  input: FromUser,
  user: string,
  dialect: "PUBKEY_REQUEST" | "USER_DB_GET",
): Decision {
  const where = state.user_locations.get(user);
  const local = state.users.get(user);
  const record = where !== undefined && where !== "local" ? state.remote_users.get(user) : local;
  const me = state.server_id;
  if (!record?.pubkey) {
    const detail = `no key is known for user ${user}`;
    return dropped(`USER_NOT_FOUND: ${detail}`, [
      {
        type: "Send",
        link: input.link,
        frame: errorFrame(me, input.frame.from, input.at_ms, "USER_NOT_FOUND", detail),
      },
    ]);
  }
  const reply = (type: FrameType, payload: Record<string, unknown>): Decision =>
    accepted([], [{
      type: "Send",
      link: input.link,
      frame: { type, from: me, to: input.frame.from, ts: input.at_ms, payload },
    }], dialect === "PUBKEY_REQUEST" ? "" : `${dialect} answered ${type}`);
  if (dialect === "USER_DB_GET") {
    return reply("USER_DB_USER", { user_id: user, pubkey: record.pubkey });
  }
  const payload: Record<string, unknown> = {
    user_id: user,
    pubkey: record.pubkey,
    server_id: where === undefined || where === "local" ? me : where,
    online: where !== undefined,
    // Registered here, so this server is the authority for the binding; else it relays gossip.
    authority: local !== undefined && (where === undefined || where === "local")
      ? "registered"
      : "advertised",
  };
  if (record.meta.display_name !== undefined) payload.display_name = record.meta.display_name;
  return reply("PUBKEY_RESPONSE", payload);
}
