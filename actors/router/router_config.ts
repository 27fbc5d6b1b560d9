/**
 * The Router's settings: what a decision depends on besides state and input.
 * @module
 */

/** Settings a decision depends on (recorded in the log's meta, so replay uses the same). */
export interface RouterConfig {
  /** "open": any server proving its key may join or link; "pinned": only `pinned_keys`. */
  join_policy: "open" | "pinned";
  /** Keys trusted under the "pinned" policy (base64url DER SPKI). */
  pinned_keys: ReadonlySet<string>;
  /** Where other servers reach us. */
  advertise: { host: string; port: number };
  /** Users this server hosts at once (default LOCAL_USERS_MAX). */
  users_max?: number;
  /** Features this server announces to peers (default OUR_SERVER_FEATURES). */
  features?: readonly string[];
}

/** A configuration for tests and single servers. */
export const DEFAULT_ROUTER_CONFIG: RouterConfig = {
  join_policy: "open",
  pinned_keys: new Set(),
  advertise: { host: "127.0.0.1", port: 8765 },
};
