/**
 * The page's conversations as data: a pure fold of the session's events (and the page's own
 * file sends) into {@linkcode PageState}. No DOM and no clock: main.ts draws what changed, and
 * state_test.ts checks every transition without a browser.
 * @module
 */
import type { SessionEvent } from "./session.ts";
import type { DeliveryState } from "../../client/core/delivery.ts";

/** The public channel's conversation id. */
export const PUBLIC = "public";

/** A file in a conversation. */
export interface FileState {
  key: string;
  name: string;
  size: number;
  done: number;
  total: number;
  state: "receiving" | "sending" | "ready" | "sent" | "failed";
  signed?: boolean;
  sha256?: string;
  /** The checked bytes of a received file (the page offers them for download). */
  data?: Uint8Array<ArrayBuffer>;
  reason?: string;
}

/** A line in a conversation. */
export interface Message {
  id: number;
  conv: string;
  from: string;
  outgoing: boolean;
  ts: number;
  text?: string;
  verified?: boolean;
  note?: string;
  /** Our DM's reference and delivery state. */
  msg_ref?: string;
  state?: DeliveryState;
  parts?: number;
  /** Parts of a received message that never came. */
  missing?: number[];
  /** Our public post: members it was encrypted for, and who was skipped. */
  recipients?: number;
  skipped?: string[];
  file?: FileState;
}

/** Everything the conversations show. */
export interface PageState {
  readonly current: string;
  readonly nextId: number;
  readonly conversations: ReadonlyMap<string, readonly Message[]>;
  readonly unread: ReadonlyMap<string, number>;
  /** What the last event did, so the page redraws only that. */
  readonly changed?: { conv: string; id: number; added: boolean };
}

/** The page's own actions that change conversations. */
export type PageAction =
  | { event: "select"; conv: string }
  | {
    event: "send_file";
    key: string;
    conv: string;
    from: string;
    name: string;
    size: number;
    ts: number;
  }
  | { event: "send_file_progress"; key: string; done: number; total: number }
  | { event: "send_file_done"; key: string; recipients: number }
  | { event: "send_file_failed"; key: string; reason: string };

/** The state of a freshly unlocked page. */
export function initialState(): PageState {
  return { current: PUBLIC, nextId: 1, conversations: new Map(), unread: new Map() };
}

/** The next state; the same object when nothing visible changed. */
export function reduce(state: PageState, e: SessionEvent | PageAction): PageState {
  switch (e.event) {
    case "select":
    case "message":
    case "message_state":
      return reduceMessages(state, e);
    case "file_offer":
    case "file_progress":
    case "file_received":
    case "file_failed":
      return reduceFiles(state, e);
    case "send_file":
    case "send_file_progress":
    case "send_file_done":
    case "send_file_failed":
      return reduceSends(state, e);
    default:
      return state;
  }
}

type Of<K extends string> = Extract<SessionEvent | PageAction, { event: K }>;

function reduceMessages(
  state: PageState,
  e: Of<"select" | "message" | "message_state">,
): PageState {
  switch (e.event) {
    case "select":
      return {
        ...state,
        current: e.conv,
        unread: without(state.unread, e.conv),
        changed: undefined,
      };
    case "message":
      return add(state, {
        conv: e.conv,
        from: e.from,
        outgoing: e.direction === "out",
        ts: e.ts,
        text: e.text,
        verified: e.verified,
        parts: e.parts,
        ...(e.note !== undefined ? { note: e.note } : {}),
        ...(e.missing.length ? { missing: e.missing } : {}),
        ...(e.msg_ref !== undefined ? { msg_ref: e.msg_ref, state: e.state } : {}),
        ...(e.recipients !== undefined
          ? { recipients: e.recipients, skipped: e.skipped ?? [] }
          : {}),
      });
    case "message_state":
      return update(state, e.to, (m) => m.msg_ref === e.msg_ref, (m) => ({ ...m, state: e.state }));
  }
}

function reduceFiles(
  state: PageState,
  e: Of<"file_offer" | "file_progress" | "file_received" | "file_failed">,
): PageState {
  switch (e.event) {
    case "file_offer":
      return add(state, {
        conv: e.mode === "public" ? PUBLIC : e.from,
        from: e.from,
        outgoing: false,
        ts: e.ts,
        file: {
          key: `${e.from}/${e.file_id}`,
          name: e.name,
          size: e.size,
          done: 0,
          total: e.size,
          state: "receiving",
          signed: e.verified,
        },
      });
    case "file_progress":
      if (e.direction !== "receive") return state;
      return updateFile(
        state,
        `${e.peer}/${e.file_id}`,
        (f) =>
          percent(f.done, f.total) === percent(e.done, e.total)
            ? f
            : { ...f, done: e.done, total: e.total },
      );
    case "file_received":
      return updateFile(
        state,
        `${e.from}/${e.file_id}`,
        (f) => ({ ...f, state: "ready", data: e.data, sha256: e.sha256, done: e.size }),
      );
    case "file_failed": {
      const key = `${e.from}/${e.file_id}`;
      const failed = updateFile(state, key, (f) => ({ ...f, state: "failed", reason: e.reason }));
      if (failed !== state) return failed;
      return add(state, {
        conv: e.from,
        from: e.from,
        outgoing: false,
        ts: e.ts,
        file: { key, name: e.name, size: 0, done: 0, total: 0, state: "failed", reason: e.reason },
      });
    }
  }
}

function reduceSends(
  state: PageState,
  e: Of<"send_file" | "send_file_progress" | "send_file_done" | "send_file_failed">,
): PageState {
  switch (e.event) {
    case "send_file":
      return add(state, {
        conv: e.conv,
        from: e.from,
        outgoing: true,
        ts: e.ts,
        file: { key: e.key, name: e.name, size: e.size, done: 0, total: e.size, state: "sending" },
      });
    case "send_file_progress":
      return updateFile(
        state,
        e.key,
        (f) =>
          percent(f.done, f.total) === percent(e.done, e.total)
            ? f
            : { ...f, done: e.done, total: e.total },
      );
    case "send_file_done":
      return updateFile(
        state,
        e.key,
        (f) => ({
          ...f,
          state: "sent",
          done: f.total,
          reason: `to ${e.recipients} recipient${e.recipients === 1 ? "" : "s"}`,
        }),
      );
    case "send_file_failed":
      return updateFile(state, e.key, (f) => ({ ...f, state: "failed", reason: e.reason }));
  }
}

function percent(done: number, total: number): number {
  return Math.floor((done / Math.max(total, 1)) * 100);
}

function add(state: PageState, m: Omit<Message, "id">): PageState {
  const msg: Message = { id: state.nextId, ...m };
  const conversations = new Map(state.conversations);
  conversations.set(msg.conv, [...(state.conversations.get(msg.conv) ?? []), msg]);
  const unread = msg.conv === state.current || msg.outgoing
    ? state.unread
    : new Map(state.unread).set(msg.conv, (state.unread.get(msg.conv) ?? 0) + 1);
  return {
    ...state,
    nextId: state.nextId + 1,
    conversations,
    unread,
    changed: { conv: msg.conv, id: msg.id, added: true },
  };
}

function update(
  state: PageState,
  conv: string,
  match: (m: Message) => boolean,
  change: (m: Message) => Message,
): PageState {
  const list = state.conversations.get(conv);
  const at = list?.findIndex(match) ?? -1;
  if (!list || at < 0) return state;
  const next = change(list[at]!);
  if (next === list[at]) return state;
  const copy = [...list];
  copy[at] = next;
  const conversations = new Map(state.conversations).set(conv, copy);
  return { ...state, conversations, changed: { conv, id: next.id, added: false } };
}

function updateFile(state: PageState, key: string, change: (f: FileState) => FileState): PageState {
  for (const [conv, list] of state.conversations) {
    if (!list.some((m) => m.file?.key === key)) continue;
    return update(state, conv, (m) => m.file?.key === key, (m) => {
      const file = change(m.file!);
      return file === m.file ? m : { ...m, file };
    });
  }
  return state;
}

function without<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const copy = new Map(map);
  copy.delete(key);
  return copy;
}
