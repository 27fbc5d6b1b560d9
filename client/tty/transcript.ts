/**
 * The transcript of the interactive client: every event as a line with its local time
 * (`14:02`), our own messages shown as soon as they leave with their delivery state, which
 * changes in place (or on a new line) as ACKs and receipts arrive, and transfers in progress
 * on status rows.
 * @module
 */
import { LruMap } from "../../lib/lru.ts";
import type { Clock } from "../../lib/world.ts";
import { CLIENT_SENT_TRACKED_MAX } from "../../protocol/limits.ts";
import { parseMessageRef } from "../../protocol/message_ref.ts";
import { deliveryState, type Names, render } from "../render.ts";
import type { ClientEvent } from "../session.ts";

/** Where the transcript goes: the screen, or plain lines when stdin is not a terminal. */
export interface Sink {
  /** A new line (or several); `id` names it for {@linkcode Sink.update}. */
  print(text: string, id?: string): void;
  /** A new version of the line printed with `id`. */
  update(id: string, text: string): void;
  /** A status row (undefined removes it). */
  status(key: string, text: string | undefined): void;
}

/** Delivery states from least to most advanced; a message shows the least of its parts. */
const PROGRESS = ["sent", "queued", "delivered", "read"];

/** One message we sent, possibly in several parts. */
interface Mine {
  id: string;
  head: string;
  parts: Map<string, string>;
}

/** `14:02`, local time. */
export function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The least advanced state of a message's parts; a part that expired marks the whole. */
export function overallState(states: Iterable<string>): string {
  let least = PROGRESS.length - 1;
  for (const state of states) {
    if (!PROGRESS.includes(state)) return state;
    least = Math.min(least, PROGRESS.indexOf(state));
  }
  return PROGRESS[least]!;
}

/** The transcript. */
export class Transcript {
  #mine = new LruMap<string, Mine>(CLIENT_SENT_TRACKED_MAX);
  /**
   * States that arrived before their message was shown: the first parts of a long message can be
   * acknowledged while the last ones are still being encrypted.
   */
  #early = new LruMap<string, string>(CLIENT_SENT_TRACKED_MAX);

  constructor(
    private readonly sink: Sink,
    private readonly clock: Clock,
    private readonly names: Names,
  ) {}

  /** A line of our own making (connection state, command errors), with the time. */
  note(text: string): void {
    this.sink.print(`${hhmm(this.clock.now())} ${text}`);
  }

  /** Our message, as soon as it left: a DM with its delivery state, a public one with its reach. */
  sent(event: Extract<ClientEvent, { event: "sent" }>, text: string): void {
    const head = `${hhmm(this.clock.now())} me → ${event.label}: ${text}`;
    const refs = event.msg_refs ?? [];
    if (refs.length === 0) return this.sink.print(`${head}  (to ${event.parts} members)`);
    const states = refs.map((r): [string, string] => [r, this.#early.get(r) ?? "sent"]);
    for (const ref of refs) this.#early.delete(ref);
    const mine: Mine = { id: refs[0]!, head, parts: new Map(states) };
    for (const ref of refs) this.#mine.set(ref, mine);
    this.sink.print(this.#line(mine), mine.id);
  }

  /** An event from the session. */
  show(event: ClientEvent): void {
    if (event.event === "delivery") {
      const mine = this.#mine.get(event.msg_ref);
      if (mine) {
        mine.parts.set(event.msg_ref, event.status);
        return this.sink.update(mine.id, this.#line(mine));
      }
      // Ours (ACKs and receipts come only to senders), not shown yet: kept for its line.
      if (parseMessageRef(event.msg_ref)) return this.#early.set(event.msg_ref, event.status);
    }
    if (event.event === "progress") {
      const key = `progress ${event.file_id}`;
      if (event.bytes < event.total) return this.sink.status(key, render(event));
      this.sink.status(key, undefined);
    }
    const text = render(event, this.names);
    if (text) this.note(text);
  }

  #line(mine: Mine): string {
    return `${mine.head}  ${deliveryState(overallState(mine.parts.values()))}`;
  }
}
