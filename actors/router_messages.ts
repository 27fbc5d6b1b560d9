/**
 * The Router's vocabularies besides events: inputs (what arrived) and effects (what the shell
 * must do). Links validate and verify before they post an input, so the Router trusts inputs.
 * @module
 */
import type { ErrorCode, Frame, FrameOf, FrameType, PayloadOf } from "../protocol/mod.ts";
import type { RouterEvent } from "../store/events.ts";

/** A frame the server builds; its link signs it on the way out (§15 P5). */
export interface UnsignedFrame<T extends FrameType = FrameType> {
  type: T;
  from: string;
  to: string;
  ts: number;
  payload: PayloadOf<T> | Record<string, unknown>;
}

/** What the Router is told. `raw` is the frame as received, for the journal. */
export type RouterInput =
  /** A well-formed USER_HELLO whose key imported as a valid RSA-4096 key (`pubkey` normalised). */
  | {
    type: "UserHello";
    link: string;
    frame: FrameOf<"USER_HELLO">;
    pubkey: string;
    raw: string;
    at_ms: number;
  }
  /** A verified frame from the user that said hello on `link`. */
  | { type: "FromUser"; link: string; frame: Frame; raw: string; at_ms: number }
  /** A link closed, for whatever reason. */
  | { type: "LinkClosed"; link: string; reason: string; at_ms: number };

/** What the Router asks its shell to do. */
export type Effect =
  /** Sign (as this server) and send. */
  | { type: "Send"; link: string; frame: UnsignedFrame }
  /** Close a link with a WebSocket close code. */
  | { type: "Close"; link: string; code: number; reason: string };

/** The outcome of one input. */
export interface Decision {
  events: RouterEvent[];
  effects: Effect[];
  verdict: { accepted: boolean; reason: string };
}

/** Builds an ERROR frame (§3.9). */
export function errorFrame(
  from: string,
  to: string,
  ts: number,
  code: ErrorCode,
  detail: string,
): UnsignedFrame<"ERROR"> {
  return { type: "ERROR", from, to, ts, payload: { code, detail } };
}
