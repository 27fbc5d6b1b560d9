/**
 * The one event vocabulary of both clients: what the session core tells its shell. The terminal
 * prints these (one JSON line each with `--json`), the page folds them into its state. Wire-level
 * events (`dm`, `public`, `delivery`: one per frame) stay for scripts; a transcript shows the
 * whole-message events (`message`, `message_state`).
 * @module
 */
import type { DeliveryState } from "./delivery.ts";

/** The connection as the user should see it. */
export type ConnectionState =
  | { state: "connecting"; attempt: number }
  | {
    state: "online";
    server_id: string;
    server_fingerprint: string;
    /** `quiet`: no answer to USER_HELLO and no ERROR within the quiet period. */
    hello: "ack" | "quiet";
    content_sig: string;
  }
  /** Offline, trying again at `retry_at` (ms since the epoch); `code`: the socket's close code. */
  | { state: "waiting"; retry_at: number; attempt: number; reason: string; code?: number }
  /** Offline for good: signed out, or the server refuses this identity. */
  | { state: "stopped"; reason: string };

/** A whole message, received or sent, as a transcript shows it. */
export interface MessageEvent {
  event: "message";
  direction: "in" | "out";
  /** The conversation: the other user's id, or "public". */
  conv: string;
  from: string;
  to: string;
  /** The sender's label (ours for our own messages). */
  label: string;
  text: string;
  /** The first part's timestamp (ms since the epoch). */
  ts: number;
  verified: boolean;
  /** Why it is not verified, or what to know about its sender. */
  note?: string;
  parts: number;
  /** Parts that never came (shown as gap markers in `text`). */
  missing: number[];
  /** For our own DMs: the message's reference and its delivery state. */
  msg_ref?: string;
  state?: DeliveryState;
  /** For our own public posts: members it was encrypted for, and who was skipped (key changed). */
  recipients?: number;
  skipped?: string[];
}

/** Something the user should see. */
export type CoreEvent =
  | { event: "connection"; connection: ConnectionState }
  | {
    event: "ready";
    user_id: string;
    server_id: string;
    server_pub: string;
    /** `ack`: the server answered USER_HELLO; `quiet`: no answer and no ERROR. */
    hello: "ack" | "quiet";
    quiet_ms: number;
    /** The layout DMs through this server are signed with, and how it was chosen. */
    content_sig: string;
  }
  | { event: "content_sig"; layout: string; learned_from: string }
  /** One received DM frame (a part of a long message carries its text without the header). */
  | {
    event: "dm";
    from: string;
    label: string;
    text: string;
    verified: boolean;
    ts: number;
    note?: string;
  }
  | {
    event: "public";
    from: string;
    label: string;
    text: string;
    verified: boolean;
    ts: number;
    note?: string;
  }
  | MessageEvent
  | { event: "message_state"; msg_ref: string; to: string; ts: number; state: DeliveryState }
  | { event: "channel_key"; creator: string; verified: boolean }
  | { event: "login_registered" }
  /** What a server says became of one sent frame (our servers' delivery extension). */
  | { event: "delivery"; msg_ref: string; status: string; detail: string }
  /** The directory changed (someone came, went, or changed key). */
  | { event: "contacts" }
  | { event: "online"; user_id: string; label: string }
  | { event: "offline"; user_id: string; label: string }
  | { event: "key_changed"; user_id: string; label: string; previous: string; current: string }
  | { event: "error"; code: string; detail: string; sentence: string }
  | { event: "warning"; message: string }
  | FileEvent;

/** What file transfers report. */
export type FileEvent =
  /** A file is coming; it is kept only if accepted ({@linkcode SessionCore.accept}). */
  | {
    event: "file_offer";
    file_id: string;
    from: string;
    label: string;
    name: string;
    size: number;
    verified: boolean;
    mode: string;
    /** When the offer came (ms since the epoch). */
    ts: number;
  }
  /** Bytes of a file that arrived (receiving) or that the recipient's server took (sending). */
  | {
    event: "file_progress";
    file_id: string;
    peer: string;
    name: string;
    direction: "send" | "receive";
    done: number;
    total: number;
  }
  /** Complete and checked; waiting for the user to accept it. */
  | ({ event: "file_ready" } & CheckedFile)
  /** Accepted: the bytes, for the shell to save (terminal) or offer for download (page). */
  | ({ event: "file_received"; data: Uint8Array<ArrayBuffer> } & CheckedFile)
  | {
    event: "file_failed";
    file_id: string;
    from: string;
    name: string;
    reason: string;
    ts: number;
  };

/** A received file whose size and SHA-256 match its manifest. */
export interface CheckedFile {
  file_id: string;
  from: string;
  label: string;
  name: string;
  size: number;
  sha256: string;
  /** Whether the manifest's content_sig verified with the sender's key. */
  verified: boolean;
}
