/**
 * SQLite schema: the event log, the inbound journal, log metadata, and the spec §15.1 tables
 * (`users`, `groups`, `group_members`) kept as projections of the events. Migrations are
 * numbered; `user_version` records the last one applied.
 * @module
 */

/** Each entry migrates from schema version i to i + 1. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    version INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    data TEXT NOT NULL
  ) STRICT;
  CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    link TEXT NOT NULL,
    kind TEXT NOT NULL,
    raw TEXT NOT NULL,
    input TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    event_seq INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE log_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    pubkey TEXT NOT NULL,
    privkey_store TEXT NOT NULL,
    pake_password TEXT NOT NULL,
    meta TEXT,
    version INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE groups (
    group_id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL,
    created_at INTEGER,
    meta TEXT,
    version INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE group_members (
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    role TEXT,
    wrapped_key TEXT NOT NULL,
    added_at INTEGER,
    PRIMARY KEY (group_id, member_id)
  ) STRICT;
  `,
];
