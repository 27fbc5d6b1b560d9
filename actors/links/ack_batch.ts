/**
 * Delivery ACKs between our servers, coalesced while they wait for a signature (our extension,
 * announced as the `ack_batches` feature). Each SERVER_DELIVER we take is acknowledged so its
 * sender can retire it from its outbox; a signed ACK per message would make a cross-server DM
 * cost three RSA signatures instead of two.
 *
 * Nothing is delayed on purpose: an ACK is queued for signing at once, like any frame. While it
 * waits for its turn (the signer is busy), later ACKs to the same server join it (`msg_refs`)
 * instead of costing a signature each. An idle server therefore signs each ACK alone, and a busy
 * one acknowledges many deliveries with one signature, which is exactly when signatures are
 * scarce.
 * @module
 */
import { ACK_REFS_MAX } from "../../protocol/limits.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

/** One link's open ACK batch. */
export class AckBatcher {
  #open: { to: string; refs: string[] } | undefined;

  /** True when `ack` joined a batch to the same server that is still waiting to be signed. */
  joined(ack: UnsignedFrame): boolean {
    const open = this.#open;
    if (open === undefined || open.to !== ack.to || open.refs.length >= ACK_REFS_MAX) return false;
    open.refs.push(String((ack.payload as { msg_ref: unknown }).msg_ref));
    return true;
  }

  /**
   * Opens a batch with `ack`: the frame to seal (its `msg_refs` grows until signing starts) and
   * the hook the signer calls when it reads the payload, which closes the batch.
   */
  open(ack: UnsignedFrame): { frame: UnsignedFrame; onStart: () => void } {
    const refs = [String((ack.payload as { msg_ref: unknown }).msg_ref)];
    const open = { to: ack.to, refs };
    this.#open = open;
    return {
      frame: { ...ack, payload: { ...ack.payload, msg_refs: refs } },
      onStart: () => {
        if (this.#open === open) this.#open = undefined;
      },
    };
  }
}
