/**
 * Persistence: the SQLite event log, inbound journal and projections, and the server identity.
 * @module
 */
export * from "./events.ts";
export * from "./identity.ts";
export * from "./store.ts";
