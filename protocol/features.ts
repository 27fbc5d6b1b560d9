/**
 * Feature names of our extensions, announced in `features` of USER_HELLO and the server hellos;
 * a peer that does not announce one gets the plain spec behaviour.
 * @module
 */

/** Features our clients and servers announce (in USER_HELLO / SERVER_HELLO_* payloads). */
export const FEATURE_RECEIPTS = "receipts";
export const FEATURE_DELIVERY_ACKS = "delivery_acks";
/** One ACK may acknowledge several deliveries (`msg_refs`, see `actors/links/ack_batch.ts`). */
export const FEATURE_ACK_BATCHES = "ack_batches";
/**
 * Gossip between servers that both announce it reaches each server from its origin only, and a
 * heal re-syncs by digest (`actors/router/router_gossip.ts`, ROUTING.md).
 */
export const FEATURE_GOSSIP_DIRECT = "gossip_direct";
