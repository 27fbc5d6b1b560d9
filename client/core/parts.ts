/**
 * Long messages: a text longer than one RSA-OAEP block is sent as numbered parts and put back
 * together on receipt. The order travels inside the encrypted plaintext, as a short header a
 * person can read, so a client that does not reassemble shows each part with its number:
 *
 *     [2/3 #9f2c41d0] …the second piece of the text
 *
 * `i/n` is the part's place (1-based) and count, `#id` eight hex digits shared by the parts of one
 * message. A text that fits one block is sent bare, exactly as before; a part without a header (a
 * peer that splits without numbering) is shown on its own. The parts of one message are grouped by
 * sender and id, so one sender cannot add to another's message. When a part does not come within
 * {@linkcode REASSEMBLY_WAIT_MS}, or too many messages are open, the message is shown with a
 * visible marker where the missing text belongs.
 * @module
 */
import {
  MESSAGE_PARTS_MAX,
  OAEP_PLAINTEXT_BYTES_MAX,
  REASSEMBLY_OPEN_MAX,
  REASSEMBLY_WAIT_MS,
} from "../../protocol/limits.ts";
import { splitUtf8 } from "../../protocol/text.ts";
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import { LruMap } from "../../lib/lru.ts";

/** The longest header: `[64/64 #xxxxxxxx] `. */
const HEADER_BYTES_MAX = 20;
const HEADER = /^\[(\d{1,2})\/(\d{1,2}) #([0-9a-f]{8})\] /;

/** A part's place in its message. */
export interface PartHeader {
  index: number;
  count: number;
  id: string;
}

/** The plaintexts to send for `text`: one bare block, or numbered parts. */
export function splitMessage(text: string, random: Pick<Random, "bytes">): Uint8Array[] {
  const whole = splitUtf8(text, OAEP_PLAINTEXT_BYTES_MAX);
  if (whole.length === 1) return whole;
  const pieces = splitUtf8(text, OAEP_PLAINTEXT_BYTES_MAX - HEADER_BYTES_MAX);
  if (pieces.length > MESSAGE_PARTS_MAX) {
    throw new RangeError(
      `The message is too long: at most ${MESSAGE_PARTS_MAX} parts of ${
        OAEP_PLAINTEXT_BYTES_MAX - HEADER_BYTES_MAX
      } bytes`,
    );
  }
  const id = [...random.bytes(4)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const encoder = new TextEncoder();
  return pieces.map((piece, i) => {
    const header = encoder.encode(`[${i + 1}/${pieces.length} #${id}] `);
    const out = new Uint8Array(header.length + piece.length);
    out.set(header);
    out.set(piece, header.length);
    return out;
  });
}

/** A received plaintext's header (if it is a well-formed part) and its text without it. */
export function readPart(plaintext: string): { header?: PartHeader; text: string } {
  const m = HEADER.exec(plaintext);
  if (!m) return { text: plaintext };
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 2 || count > MESSAGE_PARTS_MAX || index < 1 || index > count) {
    return { text: plaintext };
  }
  return { header: { index, count, id: m[3]! }, text: plaintext.slice(m[0].length) };
}

/** One received part. */
export interface Part {
  /** The conversation: the sender's id for a DM, or "public". */
  conv: string;
  from: string;
  ts: number;
  verified: boolean;
  text: string;
  header?: PartHeader;
}

/** A whole message: reassembled, or one bare part. */
export interface Whole {
  conv: string;
  from: string;
  /** The first part's timestamp. */
  ts: number;
  text: string;
  /** True only when every part arrived and verified. */
  verified: boolean;
  parts: number;
  /** 1-based places of parts that never came (shown as gap markers in `text`). */
  missing: number[];
}

interface Open {
  parts: Map<number, Part>;
  count: number;
  timer: TimerId;
}

/** The marker shown in place of a part that never came. */
export function gapMarker(index: number, count: number): string {
  return ` [… part ${index} of ${count} missing …] `;
}

/** Puts numbered parts back together; bounded in messages and parts, timed by `clock`. */
export class Reassembler {
  #open = new Map<string, Open>();
  /** Messages already shown: a part of one that comes late is shown on its own, marked. */
  #closed: LruMap<string, true>;

  constructor(
    private readonly clock: Clock,
    private readonly deliver: (whole: Whole) => void,
    private readonly waitMs = REASSEMBLY_WAIT_MS,
    private readonly openMax = REASSEMBLY_OPEN_MAX,
  ) {
    this.#closed = new LruMap(openMax * 4);
  }

  /** Takes one part; the whole message is delivered when complete (or overdue). */
  add(part: Part): void {
    const h = part.header;
    if (!h) {
      return this.deliver({ ...part, parts: 1, missing: [] });
    }
    const key = `${part.conv}\n${part.from}\n${h.id}`;
    if (this.#closed.get(key)) {
      const text = `[late part ${h.index} of ${h.count}] ${part.text}`;
      return this.deliver({ ...part, text, parts: 1, missing: [] });
    }
    let open = this.#open.get(key);
    if (open && open.count !== h.count) return; // A part that contradicts its siblings.
    if (!open) {
      if (this.#open.size >= this.openMax) this.#flush(this.#open.keys().next().value!);
      open = {
        parts: new Map(),
        count: h.count,
        timer: this.clock.setTimeout(() => this.#flush(key), this.waitMs),
      };
      this.#open.set(key, open);
    }
    if (!open.parts.has(h.index)) open.parts.set(h.index, part);
    if (open.parts.size === open.count) this.#flush(key);
  }

  /** Messages still waiting for parts. */
  get pending(): number {
    return this.#open.size;
  }

  /** Shows every open message as it is (the session is closing). */
  flushAll(): void {
    for (const key of [...this.#open.keys()]) this.#flush(key);
  }

  #flush(key: string): void {
    const open = this.#open.get(key);
    if (!open) return;
    this.#open.delete(key);
    this.#closed.set(key, true);
    this.clock.clearTimeout(open.timer);
    const texts: string[] = [];
    const missing: number[] = [];
    let first: Part | undefined;
    let verified = true;
    for (let i = 1; i <= open.count; i++) {
      const part = open.parts.get(i);
      if (!part) {
        missing.push(i);
        texts.push(gapMarker(i, open.count));
        continue;
      }
      first ??= part;
      verified &&= part.verified;
      texts.push(part.text);
    }
    const earliest = Math.min(...[...open.parts.values()].map((p) => p.ts));
    this.deliver({
      conv: first!.conv,
      from: first!.from,
      ts: earliest,
      text: texts.join(""),
      verified: verified && missing.length === 0,
      parts: open.count,
      missing,
    });
  }
}
