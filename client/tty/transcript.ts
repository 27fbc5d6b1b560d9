/**
 * The transcript of the interactive client: one line per whole message, both sides, with the
 * local time it was written (`14:02`); our own DMs with their delivery state, which changes in
 * place as ACKs and receipts arrive; other events as lines with the time they happened, and
 * transfers in progress on status rows. It is built from the core's whole-message events
 * (`message`, `message_state`); the per-frame ones (`dm`, `public`, `delivery`, `sent`) are
 * for scripts.
 * @module
 */
import { LruMap } from "../../lib/lru.ts";
import type { Clock } from "../../lib/world.ts";
import { CLIENT_SENT_TRACKED_MAX } from "../../protocol/limits.ts";
import { hhmm, type Names, render, renderMessage } from "../render.ts";

export { hhmm };
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

type Message = Extract<ClientEvent, { event: "message" }>;

/** States the core follows per message; a `delivery` with another status is worth a line. */
const FOLLOWED = new Set(["sent", "queued", "delivered", "read"]);

/** The transcript. */
export class Transcript {
  /** Our DMs still shown, by reference, so their state can change in place. */
  #mine = new LruMap<string, Message>(CLIENT_SENT_TRACKED_MAX);

  constructor(
    private readonly sink: Sink,
    private readonly clock: Clock,
    private readonly names: Names,
  ) {}

  /** A line of our own making (connection state, command errors), with the time. */
  note(text: string): void {
    this.sink.print(`${hhmm(this.clock.now())} ${text}`);
  }

  /** An event from the session. */
  show(event: ClientEvent): void {
    switch (event.event) {
      case "message":
        return this.#message(event);
      case "message_state": {
        const mine = this.#mine.get(event.msg_ref);
        if (!mine) return;
        mine.state = event.state;
        return this.sink.update(event.msg_ref, this.#line(mine));
      }
      case "dm":
      case "public":
      case "sent":
        return;
      case "delivery":
        if (FOLLOWED.has(event.status)) return;
        break;
      case "progress": {
        const key = `progress ${event.file_id}`;
        if (event.bytes < event.total) return this.sink.status(key, render(event));
        this.sink.status(key, undefined);
      }
    }
    const text = render(event, this.names);
    if (text) this.note(text);
  }

  #message(m: Message): void {
    if (m.direction === "out" && m.msg_ref) {
      const mine = { ...m };
      this.#mine.set(m.msg_ref, mine);
      return this.sink.print(this.#line(mine), m.msg_ref);
    }
    this.sink.print(this.#line(m));
  }

  #line(m: Message): string {
    return `${hhmm(m.ts)} ${renderMessage(m, this.names)}`;
  }
}
