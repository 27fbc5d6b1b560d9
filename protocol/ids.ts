/**
 * Ids on the wire (§1): users and servers are named by UUID v4. We only ever send UUID v4 ids;
 * what we accept from peers that do not is decided where the id is used (see DECISIONS.md).
 * @module
 */

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True when `id` is a UUID v4 (either case). */
export function isUuidV4(id: string): boolean {
  return UUID_V4.test(id);
}

/** `id`, flagged when it is not a UUID v4: for journal verdicts and logs. */
export function flagId(id: string): string {
  return isUuidV4(id) ? id : `${id} (not a UUID v4)`;
}
