/**
 * Reading frames from the server in both clients: size, JSON, envelope shape (§1), and typed
 * accessors for payload fields. protocol/parse.ts does this with zod on the server, but zod
 * would be most of the page's bundle (about 450 KB), so the clients check only the envelope and
 * read each payload field through a type-checking accessor: a field of the wrong type is simply
 * absent.
 * @module
 */
import { ID_LENGTH_MAX, USER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";

/** A frame whose envelope is well formed; the payload is still untrusted. */
export interface Frame {
  type: string;
  from: string;
  to: string;
  ts: number;
  payload: Record<string, unknown>;
  sig: string;
}

/** Largest frame the browser accepts from its server (what the terminal client accepts). */
export const FRAME_BYTES_MAX = USER_FRAME_BYTES_MAX * 4;

/** Parses one WebSocket text message; `undefined` with a reason when it is not a frame. */
export function readFrame(text: string): { frame?: Frame; problem?: string } {
  if (text.length > FRAME_BYTES_MAX) return { problem: "frame too large" };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { problem: "frame is not JSON" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return { problem: "frame is not a JSON object" };
  }
  const o = v as Record<string, unknown>;
  const payload = o.payload ?? {};
  if (
    typeof o.type !== "string" || !isId(o.from ?? "") || !isId(o.to ?? "") ||
    (o.ts !== undefined && (typeof o.ts !== "number" || !Number.isFinite(o.ts))) ||
    typeof payload !== "object" || payload === null || Array.isArray(payload) ||
    (o.sig !== undefined && typeof o.sig !== "string")
  ) return { problem: `malformed ${String(o.type).slice(0, 40)} envelope` };
  return {
    frame: {
      type: o.type,
      from: (o.from as string | undefined) ?? "",
      to: (o.to as string | undefined) ?? "",
      ts: (o.ts as number | undefined) ?? 0,
      payload: payload as Record<string, unknown>,
      sig: (o.sig as string | undefined) ?? "",
    },
  };
}

/** A string field, or `undefined`. */
export function str(o: unknown, key: string, max = 64 * 1024): string | undefined {
  const v = (o as Record<string, unknown> | undefined)?.[key];
  return typeof v === "string" && v.length <= max ? v : undefined;
}

/** A non-negative integer field, or `undefined`. */
export function int(o: unknown, key: string): number | undefined {
  const v = (o as Record<string, unknown> | undefined)?.[key];
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** An object field, or `undefined`. */
export function obj(o: unknown, key: string): Record<string, unknown> | undefined {
  const v = (o as Record<string, unknown> | undefined)?.[key];
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : undefined;
}

/** An array field, or an empty array. */
export function arr(o: unknown, key: string): unknown[] {
  const v = (o as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(v) ? v : [];
}

/** A plausible id (user or server). */
export function isId(v: unknown): v is string {
  return typeof v === "string" && v.length <= ID_LENGTH_MAX;
}

/** The six standard error codes (§3.9) in plain words; anything else is a generic error. */
export function errorSentence(code: string): string {
  switch (code) {
    case "USER_NOT_FOUND":
      return "That user is not online anywhere in the network, so nothing was delivered.";
    case "INVALID_SIG":
      return "The server refused a signature: it did not match the key it knows for you.";
    case "BAD_KEY":
      return "The server refused a key or a field as malformed or not acceptable.";
    case "TIMEOUT":
      return "A server or a link between servers timed out; try again in a moment.";
    case "UNKNOWN_TYPE":
      return "The server did not understand a request from this client.";
    case "NAME_IN_USE":
      return "This identity is already connected, maybe in another tab or device.";
    default:
      return "The server reported an error.";
  }
}
