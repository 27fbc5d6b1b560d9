/**
 * Events for store tests whose JSON text needs every kind of escaping (quotes, backslashes,
 * non-ASCII, U+2028) and whose `meta` is empty every other time. Test support only.
 * @module
 */
import type { RouterEvent } from "./events.ts";

/** The `i`-th awkward event: a `UserRegistered` of a user id that needs escaping. */
export function awkwardEvent(i: number): RouterEvent {
  return {
    type: "UserRegistered",
    user_id: `u"${i}\\é\u2028`,
    pubkey: `K${i}`,
    meta: i % 2 ? {} : { display_name: `n${i}` },
    at_ms: 1_700_000_000_000 + i,
  };
}
