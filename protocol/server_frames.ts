/**
 * The frame types only a server sends its users: they carry the server's id in `from` and its
 * transport signature, so a client checks them with the server's key. Shared by both clients.
 * @module
 */

/** Server-to-user frame types (SOCP-1.3.md §3, and our extensions). */
export const SERVER_TO_USER_TYPES: ReadonlySet<string> = new Set([
  "ACK",
  "ERROR",
  "AUTH_CHALLENGE",
  "USER_ADVERTISE",
  "USER_REMOVE",
  "LIST_RESPONSE",
  "USER_DELIVER",
  "PUBKEY_RESPONSE",
  "MSG_RECEIPT",
]);
