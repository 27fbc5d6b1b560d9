/**
 * Our login proof (`SOCP-AUTH|…`): what a user signs to answer a server's AUTH_CHALLENGE
 * nonce, bound to the server, the user and the nonce; the terminal client signs it and the
 * server checks it.
 * @module
 */

/** The bytes a user signs to answer AUTH_CHALLENGE: bound to the server, the user and the nonce. */
export function authMessage(
  server_id: string,
  user_id: string,
  nonce: string,
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`SOCP-AUTH|${server_id}|${user_id}|${nonce}`) as Uint8Array<
    ArrayBuffer
  >;
}
