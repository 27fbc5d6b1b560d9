/**
 * The client's wire trace (`--trace FILE`): every frame both ways, one JSON line each, with the
 * client's own verdict (why a frame was dropped, which content_sig layout verified, which ids
 * are not UUID v4). `main.ts replay --trace FILE` renders it as a timeline
 * (actors/ops/trace_replay.ts). Frames carry only ciphertext; keys and plaintext are never written.
 * @module
 */
import type { Clock } from "../lib/world.ts";
import { isUuidV4 } from "../protocol/uuid.ts";

/** One line of a trace file. */
export interface TraceLine {
  seq: number;
  at_ms: number;
  /** `in`: from the server; `out`: sent by this client. */
  dir: "in" | "out";
  raw: string;
  verdict: "accepted" | "dropped";
  reason: string;
}

/** Where a session reports each frame. */
export interface Tracer {
  frame(dir: TraceLine["dir"], raw: string, verdict: TraceLine["verdict"], reason: string): void;
  close(): void;
}

/** A tracer that records nothing. */
export const NO_TRACE: Tracer = { frame: () => {}, close: () => {} };

/** Appends trace lines to a file, synchronously, so a crash loses nothing already traced. */
export class TraceFile implements Tracer {
  #seq = 0;
  #encoder = new TextEncoder();
  #closed = false;

  private constructor(private readonly file: Deno.FsFile, private readonly clock: Clock) {}

  /** Opens (creating or truncating) `path`, readable by the owner only. */
  static async open(path: string, clock: Clock): Promise<TraceFile> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true, mode: 0o600 });
    return new TraceFile(file, clock);
  }

  frame(dir: TraceLine["dir"], raw: string, verdict: TraceLine["verdict"], reason: string): void {
    if (this.#closed) return;
    const line: TraceLine = {
      seq: ++this.#seq,
      at_ms: this.clock.now(),
      dir,
      raw,
      verdict,
      reason,
    };
    const bytes = this.#encoder.encode(JSON.stringify(line) + "\n");
    for (let at = 0; at < bytes.length;) at += this.file.writeSync(bytes.subarray(at));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.close();
  }
}

/** Notes on the ids of a frame that are not UUID v4 (`to: "public"` is the spec's own). */
export function idNotes(frame: { from?: unknown; to?: unknown; payload?: unknown }): string[] {
  const notes: string[] = [];
  const check = (name: string, value: unknown) => {
    if (value !== undefined && !isUuidV4(value)) {
      notes.push(`${name} ${JSON.stringify(value).slice(0, 60)} is not a UUID v4`);
    }
  };
  check("from", frame.from);
  if (frame.to !== "public") check("to", frame.to);
  const payload = typeof frame.payload === "object" && frame.payload !== null
    ? frame.payload as Record<string, unknown>
    : {};
  for (const field of ["user_id", "sender", "server_id"]) check(field, payload[field]);
  return notes;
}

/** A reason with id notes appended. */
export function withNotes(reason: string, notes: readonly string[]): string {
  return [reason, ...notes].filter(Boolean).join("; ");
}
