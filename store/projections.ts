/**
 * The spec §15.1 tables as projections of the event log: each event updates them inside the
 * same transaction that appends it, and `Store.rebuildProjections` refolds them from scratch.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { RouterEvent } from "./events.ts";

/** Statements prepared once per database: a user's arrival is frequent, preparing is not free. */
const prepared = new WeakMap<DatabaseSync, Map<string, StatementSync>>();

function statement(db: DatabaseSync, sql: string): StatementSync {
  let byText = prepared.get(db);
  if (!byText) prepared.set(db, byText = new Map());
  let found = byText.get(sql);
  if (!found) byText.set(sql, found = db.prepare(sql));
  return found;
}

/** Applies one event to the projection tables. */
export function applyProjection(db: DatabaseSync, event: RouterEvent): void {
  switch (event.type) {
    case "UserRegistered":
      // privkey_store and pake_password stay empty until the user registers a password login.
      statement(
        db,
        "INSERT INTO users (user_id, pubkey, privkey_store, pake_password, meta, version) VALUES (?, ?, '', '', ?, 1) ON CONFLICT(user_id) DO NOTHING",
      ).run(event.user_id, event.pubkey, JSON.stringify(event.meta));
      break;
    case "UserLoginRegistered":
      statement(
        db,
        "UPDATE users SET privkey_store = ?, pake_password = ?, version = version + 1 WHERE user_id = ?",
      )
        .run(event.privkey_store, event.pake_password, event.user_id);
      break;
    case "UserArrived":
      statement(
        db,
        "UPDATE users SET meta = ?, version = version + 1 WHERE user_id = ? AND meta IS NOT ?",
      ).run(JSON.stringify(event.meta), event.user_id, JSON.stringify(event.meta));
      break;
    case "PublicChannelJoined":
      ensurePublicGroup(db, event.at_ms);
      for (const member of event.members) {
        statement(
          db,
          "INSERT INTO group_members (group_id, member_id, role, wrapped_key, added_at) VALUES ('public', ?, 'member', '', ?) ON CONFLICT DO NOTHING",
        ).run(member, event.at_ms);
      }
      break;
    case "PublicChannelRekeyed":
      ensurePublicGroup(db, event.at_ms);
      statement(db, "UPDATE groups SET version = MAX(version, ?) WHERE group_id = 'public'").run(
        event.version,
      );
      for (const wrap of event.wraps) {
        statement(
          db,
          "INSERT INTO group_members (group_id, member_id, role, wrapped_key, added_at) VALUES ('public', ?, 'member', ?, ?) ON CONFLICT (group_id, member_id) DO UPDATE SET wrapped_key = excluded.wrapped_key",
        ).run(wrap.member_id, wrap.wrapped_key, event.at_ms);
      }
      break;
    case "ServerStarted":
    case "UserLeft":
    case "ServerPinned":
    case "ServerAliased":
    case "ServerLinked":
    case "ServerUnlinked":
    case "UserLocated":
    case "UserUnlocated":
    case "DormantClaimsDropped":
    case "FrameSeen":
    case "MessageQueued":
    case "MessageDequeued":
      break;
  }
}

/** Empties the projection tables before a rebuild. */
export function clearProjections(db: DatabaseSync): void {
  db.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members;");
}

/** The public channel's row (§6.3): creator "system", created when this server first saw it. */
function ensurePublicGroup(db: DatabaseSync, at_ms: number): void {
  statement(
    db,
    "INSERT INTO groups (group_id, creator_id, created_at, meta, version) VALUES ('public', 'system', ?, '{\"title\":\"public\"}', 0) ON CONFLICT DO NOTHING",
  ).run(at_ms);
}
