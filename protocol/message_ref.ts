/**
 * Message references (our reliable-delivery extension): the id a sender and a recipient both
 * compute for one DM, so receipts and ACKs name it without a new field on the wire.
 * @module
 */

/** The reference a sender and a recipient both compute for one message: sender|recipient|ts. */
export function messageRef(sender: string, recipient: string, ts: number): string {
  return `${sender}|${recipient}|${ts}`;
}

/** Splits a message reference; undefined when it is not ours. */
export function parseMessageRef(
  ref: string,
): { sender: string; recipient: string; ts: number } | undefined {
  const parts = ref.split("|");
  if (parts.length !== 3 || !/^\d+$/.test(parts[2]!)) return undefined;
  return { sender: parts[0]!, recipient: parts[1]!, ts: Number(parts[2]) };
}
