/**
 * What became of each message this client sent. A message of several parts has one reference
 * per part (`sender|recipient|ts`); the server's ACK `{status: "queued"}` and `MSG_RECEIPT`
 * name those. A message's state is its least advanced part's: sent (handed to our server),
 * queued (the recipient is offline; the server holds it), delivered (the recipient's client
 * confirmed it), read (where a receipt says so). A state never goes back. Bounded: the oldest
 * tracked message is forgotten first.
 * @module
 */
import { SENT_TRACKED_MAX } from "../../protocol/limits.ts";

/** A sent message's state, in order of progress. */
export type DeliveryState = "sent" | "queued" | "delivered" | "read";

const ORDER: DeliveryState[] = ["sent", "queued", "delivered", "read"];

/** A sent message as the tracker follows it. */
export interface Sent {
  /** The first part's reference: the message's id in events. */
  msg_ref: string;
  to: string;
  ts: number;
  state: DeliveryState;
}

interface Tracked extends Sent {
  parts: Map<string, DeliveryState>;
}

/** The state named by a server's status word, if it is one we follow. */
export function deliveryState(status: string): DeliveryState | undefined {
  return (ORDER as string[]).includes(status) ? status as DeliveryState : undefined;
}

/** The least advanced of some parts' states. */
function leastOf(states: Iterable<DeliveryState>): DeliveryState {
  return ORDER[Math.min(...[...states].map((s) => ORDER.indexOf(s)))]!;
}

/** Sent messages and their delivery state. */
export class DeliveryTracker {
  #messages = new Map<string, Tracked>();
  #byPart = new Map<string, string>();
  /**
   * States of parts not yet tracked: the first parts of a long message can be acknowledged
   * while the last ones are still being encrypted, before the message is tracked as a whole.
   */
  #early = new Map<string, DeliveryState>();

  constructor(private readonly max = SENT_TRACKED_MAX) {}

  /** Starts following a message sent as `refs` (one per part). */
  sent(to: string, ts: number, refs: string[]): Sent {
    const msg_ref = refs[0]!;
    const tracked: Tracked = {
      msg_ref,
      to,
      ts,
      state: "sent",
      parts: new Map(refs.map((r) => [r, this.#early.get(r) ?? "sent"])),
    };
    for (const r of refs) this.#early.delete(r);
    tracked.state = leastOf(tracked.parts.values());
    this.#messages.set(msg_ref, tracked);
    for (const r of refs) this.#byPart.set(r, msg_ref);
    while (this.#messages.size > this.max) this.#forget(this.#messages.keys().next().value!);
    return this.#view(tracked);
  }

  /**
   * A status for one part. Returns the message when its state moved forward, `undefined` when
   * the reference is not ours or nothing changed.
   */
  update(part_ref: string, status: string): Sent | undefined {
    const state = deliveryState(status);
    const tracked = this.#messages.get(this.#byPart.get(part_ref) ?? "");
    if (state && !tracked) {
      this.#early.set(part_ref, state);
      if (this.#early.size > this.max) this.#early.delete(this.#early.keys().next().value!);
    }
    if (!state || !tracked) return undefined;
    const before = tracked.parts.get(part_ref)!;
    if (ORDER.indexOf(state) <= ORDER.indexOf(before)) return undefined;
    tracked.parts.set(part_ref, state);
    const next = leastOf(tracked.parts.values());
    if (next === tracked.state) return undefined;
    tracked.state = next;
    return this.#view(tracked);
  }

  /** A tracked message by its first part's reference. */
  get(msg_ref: string): Sent | undefined {
    const tracked = this.#messages.get(msg_ref);
    return tracked && this.#view(tracked);
  }

  #view(t: Tracked): Sent {
    return { msg_ref: t.msg_ref, to: t.to, ts: t.ts, state: t.state };
  }

  #forget(msg_ref: string): void {
    const tracked = this.#messages.get(msg_ref);
    this.#messages.delete(msg_ref);
    for (const r of tracked?.parts.keys() ?? []) this.#byPart.delete(r);
  }
}
