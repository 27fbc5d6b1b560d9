/**
 * What we tried on our own initiative, journaled with its verdict: joins through an introducer
 * and dials to pinned servers. Inbound frames are journaled by the Router; these rows make the
 * other half of an interop failure visible to `replay` (why a welcome was refused, why a dial
 * failed). They are shown as recorded and never re-run: they depend on the network.
 * @module
 */
import type { JournalRow, Store } from "../../store/store.ts";

/** One outbound attempt and what came of it. */
export interface OutboundNote {
  at_ms: number;
  /** "join" through an introducer, or "dial" to a pinned server. */
  what: "join" | "dial";
  /** `host:port` dialled. */
  target: string;
  /** The server id we expected there, if any. */
  server_id?: string;
  /** The frame the peer answered with (a welcome), as received; "" when none came. */
  raw: string;
  accepted: boolean;
  reason: string;
}

/** The journal row of an outbound attempt (`kind: "outbound"`). */
export function outboundRow(note: OutboundNote, event_seq: number): JournalRow {
  return {
    at_ms: note.at_ms,
    link: `${note.what}:${note.target}`,
    kind: "outbound",
    raw: note.raw,
    input: JSON.stringify({
      what: note.what,
      target: note.target,
      ...(note.server_id ? { server_id: note.server_id } : {}),
    }),
    verdict: note.accepted ? "accepted" : "dropped",
    reason: note.reason,
    event_seq,
  };
}

/**
 * Where outbound attempts are noted. The store opens after the join (the join may change our
 * id), so the first notes wait here until {@linkcode OutboundJournal.open}.
 */
export class OutboundJournal {
  #waiting: OutboundNote[] = [];
  #store: Store | undefined;

  /** Journals `note`, or keeps it until the store is open. */
  readonly note = (note: OutboundNote): void => {
    if (this.#store === undefined) this.#waiting.push(note);
    else this.#store.journal(outboundRow(note, this.#store.lastSeq));
  };

  /** Journals what waited, and from now on every note as it comes. */
  open(store: Store): void {
    this.#store = store;
    for (const note of this.#waiting.splice(0)) this.note(note);
  }
}
