/**
 * Delivery ACKs between our servers, coalesced (our extension, announced as the `ack_batches`
 * feature). Each SERVER_DELIVER we take is acknowledged so its sender can retire it from its
 * outbox; a signed ACK per message would make a cross-server DM cost three RSA signatures
 * instead of two.
 *
 * The first ACK to a server opens a batch that waits ACK_WINDOW_MS for later ones (`msg_refs`),
 * then goes to the signer, and keeps growing while it waits for its turn there. Nobody waits on
 * an ACK (the sender only retires its copy), so the window costs nothing visible, and it is
 * what makes a busy link pay one signature for hundreds of deliveries. A batch still in its
 * window when its link goes down is handed back (`takeUnsent`), so that it can leave on the
 * server's other link instead of being lost with this one.
 * @module
 */
import { ACK_REFS_MAX } from "../../protocol/limits.ts";
import type { Clock, TimerId } from "../../lib/world.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

/** Hands a batch to the signer; `onStart` is called when its payload is read for signing. */
export type SealAck = (frame: UnsignedFrame, onStart: () => void) => void;

interface Batch {
  to: string;
  refs: string[];
  frame: UnsignedFrame;
  /** Set while the batch is in its window, not yet with the signer. */
  timer: TimerId | undefined;
}

/** The references an ACK carries: its `msg_ref`, and a batch's `msg_refs` when it is one. */
function refsOf(ack: UnsignedFrame): string[] {
  const { msg_ref, msg_refs } = ack.payload as { msg_ref: unknown; msg_refs?: unknown[] };
  return msg_refs !== undefined ? msg_refs.map(String) : [String(msg_ref)];
}

/** One link's open ACK batch. */
export class AckBatcher {
  #open: Batch | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly seal: SealAck,
  ) {}

  /** Queues `ack`: it joins the open batch to the same server, or opens one. */
  add(ack: UnsignedFrame): void {
    const refs = refsOf(ack);
    const open = this.#open;
    if (
      open !== undefined && open.to === ack.to && open.refs.length + refs.length <= ACK_REFS_MAX
    ) {
      open.refs.push(...refs);
      if (open.refs.length >= ACK_REFS_MAX) this.#release(open);
      return;
    }
    const batch: Batch = {
      to: ack.to,
      refs,
      frame: { ...ack, payload: { ...ack.payload, msg_ref: refs[0]!, msg_refs: refs } },
      timer: undefined,
    };
    this.#open = batch;
    batch.timer = this.clock.setTimeout(() => this.#release(batch), this.windowMs);
  }

  /** The batch still in its window, taken out (the link is going down); else undefined. */
  takeUnsent(): UnsignedFrame | undefined {
    const open = this.#open;
    if (open === undefined || open.timer === undefined) return undefined;
    this.clock.clearTimeout(open.timer);
    this.#open = undefined;
    return open.frame;
  }

  /** Ends the window of `batch`: to the signer, still open until its signing starts. */
  #release(batch: Batch): void {
    if (batch.timer === undefined) return;
    this.clock.clearTimeout(batch.timer);
    batch.timer = undefined;
    this.seal(batch.frame, () => {
      if (this.#open === batch) this.#open = undefined;
    });
  }
}
