/**
 * The one parse of untrusted text: size first, then JSON, then shape. It never throws; a bad
 * frame comes back as a {@linkcode ParseError} that names the field and the SOCP error code to
 * answer with.
 * @module
 */
import type { z } from "zod";
import { ENVELOPE, type ErrorCode, type Frame, isFrameType, PAYLOADS } from "./frames.ts";
import { FRAME_DEPTH_MAX, ID_LENGTH_MAX } from "./limits.ts";

/** Why a frame was refused. */
export type ParseErrorKind =
  | "too_large"
  | "not_json"
  | "not_object"
  | "too_deep"
  | "bad_field"
  | "unknown_type";

/** A refused frame: what to answer (`code`) and what to say (`detail`). */
export interface ParseError {
  ok: false;
  kind: ParseErrorKind;
  /** The standard code to answer with (§15 P14: malformed fields count as BAD_KEY). */
  code: ErrorCode;
  /** Dotted path of the offending field, when there is one. */
  field?: string;
  detail: string;
  /** The frame's `type`, when it could be read. */
  type?: string;
}

/** The result of {@linkcode parseFrame}. */
export type ParseResult = { ok: true; frame: Frame } | ParseError;

/**
 * Parses one WebSocket text message into a typed frame.
 * @param text the message as received
 * @param maxBytes the link kind's frame limit (see `limits.ts`)
 */
export function parseFrame(text: string, maxBytes: number): ParseResult {
  // Each UTF-16 unit is at most 3 UTF-8 bytes, so the cheap length check bounds the real one.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    return fail("too_large", `frame is larger than ${maxBytes} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail("not_json", `frame is not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(
      "not_object",
      `frame must be a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`,
    );
  }
  if (depth(value) > FRAME_DEPTH_MAX) {
    return fail("too_deep", `frame nests deeper than ${FRAME_DEPTH_MAX} levels`);
  }
  return parseObject(value as Record<string, unknown>);
}

/** Validates an already-decoded JSON object as a frame. */
export function parseObject(value: Record<string, unknown>): ParseResult {
  // §3.10: CTRL_CLOSE may be a bare {"type":"CTRL_CLOSE"}.
  if (value.type === "CTRL_CLOSE") {
    return {
      ok: true,
      frame: {
        type: "CTRL_CLOSE",
        from: idOrEmpty(value.from),
        to: idOrEmpty(value.to),
        // The envelope's bounds hold here too (found by tests/fuzz: `"ts": 1e400` is Infinity).
        ts: typeof value.ts === "number" && value.ts >= 0 && value.ts <= 1e16 ? value.ts : 0,
        payload: {},
        sig: "",
      },
    };
  }
  const envelope = ENVELOPE.safeParse(value);
  if (!envelope.success) return fromZod(envelope.error, "", value.type);
  const { type, from, to, ts, payload, sig } = envelope.data;
  if (!isFrameType(type)) {
    return {
      ok: false,
      kind: "unknown_type",
      code: "UNKNOWN_TYPE",
      field: "type",
      type,
      detail: `unknown frame type "${type}"`,
    };
  }
  const body = PAYLOADS[type].safeParse(payload);
  if (!body.success) return fromZod(body.error, "payload.", type);
  return { ok: true, frame: { type, from, to, ts, payload: body.data, sig: sig ?? "" } as Frame };
}

/** A string id within the envelope's bound, else "" (a bare CTRL_CLOSE's optional fields). */
function idOrEmpty(value: unknown): string {
  return typeof value === "string" && value.length <= ID_LENGTH_MAX ? value : "";
}

function fail(kind: ParseErrorKind, detail: string): ParseError {
  return { ok: false, kind, code: "BAD_KEY", detail };
}

function fromZod(error: z.ZodError, prefix: string, type: unknown): ParseError {
  const issue = error.issues[0]!;
  const field = prefix + issue.path.map(String).join(".");
  const result: ParseError = {
    ok: false,
    kind: "bad_field",
    code: "BAD_KEY",
    field,
    detail: `field "${field}" ${
      issue.code === "invalid_type" && issue.input === undefined
        ? "is missing"
        : `is invalid: ${issue.message}`
    }`,
  };
  if (typeof type === "string") result.type = type;
  return result;
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Nesting depth of a JSON value, computed without recursion so hostile input cannot overflow. */
function depth(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d > max) max = d;
    if (max > FRAME_DEPTH_MAX) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
