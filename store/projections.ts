/**
 * The spec §15.1 tables as projections of the event log: each event updates them inside the
 * same transaction that appends it, and `Store.rebuildProjections` refolds them from scratch.
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { RouterEvent } from "./events.ts";

/** Applies one event to the projection tables. */
export function applyProjection(db: DatabaseSync, event: RouterEvent): void {
  switch (event.type) {
    case "UserRegistered":
      // privkey_store and pake_password stay empty until the user registers a password login.
      db.prepare(
        "INSERT INTO users (user_id, pubkey, privkey_store, pake_password, meta, version) VALUES (?, ?, '', '', ?, 1) ON CONFLICT(user_id) DO NOTHING",
      ).run(event.user_id, event.pubkey, JSON.stringify(event.meta));
      break;
    case "UserArrived":
      db.prepare(
        "UPDATE users SET meta = ?, version = version + 1 WHERE user_id = ? AND meta IS NOT ?",
      ).run(JSON.stringify(event.meta), event.user_id, JSON.stringify(event.meta));
      break;
    case "ServerStarted":
    case "UserLeft":
    case "ServerPinned":
    case "ServerLinked":
    case "ServerUnlinked":
    case "UserLocated":
    case "UserUnlocated":
    case "FrameSeen":
      break;
  }
}

/** Empties the projection tables before a rebuild. */
export function clearProjections(db: DatabaseSync): void {
  db.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members;");
}
