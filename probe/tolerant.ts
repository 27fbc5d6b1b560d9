/**
 * Readers for the variants other SOCP v1.3 servers send (SOCP-1.3.md §5, §12): where the server's
 * key may sit in a hello reply, which frames answer /list and where their users are, where the
 * original ts of a delivery survives, what a hello reply means. Pure functions over
 * {@linkcode Frame}s.
 * @module
 */
import type { Frame } from "./peer.ts";

/** `v` if it is a string. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `v` if it is a plain object. */
export function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : undefined;
}

/** The ERROR code of a frame (envelope payload, or a bare `{"type":"ERROR","code":…}`). */
export function errorCode(f: Frame): string | undefined {
  if (f.type !== "ERROR") return undefined;
  return str(f.payload.code) ?? str(f.code) ?? "(no code)";
}

/** A short description of a frame for reasons: `ERROR BAD_KEY: detail`, `ACK`, … */
export function describe(f: Frame): string {
  if (f.type === "ERROR") {
    const detail = str(f.payload.detail) ?? str(f.detail);
    return `ERROR ${errorCode(f)}${detail ? ` (${detail.slice(0, 120)})` : ""}`;
  }
  return f.type;
}

/** Reply types that mean "hello accepted" (§3.5: ACK or a custom welcome, §12 #16). */
const HELLO_OK_TYPES = /^(ACK|USER_WELCOME|CLIENT_WELCOME|WELCOME|AUTH_OK|LOGIN_OK|HELLO_OK)$/;

/** What a frame received after USER_HELLO says about it, or `undefined` if it says nothing. */
export function helloVerdict(f: Frame, userId: string): "accepted" | "rejected" | undefined {
  if (f.type === "ERROR") return "rejected";
  if (HELLO_OK_TYPES.test(f.type)) return "accepted";
  if (f.type === "USER_ADVERTISE" && advertisedUser(f) === userId) return "accepted";
  return undefined;
}

/** A user id the server assigned in its hello reply, when it differs from the one we chose. */
export function assignedUserId(f: Frame): string | undefined {
  return str(f.payload.user_id) ?? str(f.payload.assigned_id);
}

/** The server's own id as a hello reply states it (payload.server_id, else `from`). */
export function serverIdOf(f: Frame): string | undefined {
  return str(f.payload.server_id) ?? str(f.from);
}

/** The server's public key if a hello reply or welcome carries it (§3.5, §12 #24). */
export function serverPubOf(f: Frame): string | undefined {
  const p = f.payload;
  return str(p.server_pub) ?? str(p.server_pubkey) ?? str(p.server_key) ??
    (f.type !== "USER_ADVERTISE" ? str(p.pubkey) : undefined);
}

/** The user a USER_ADVERTISE / USER_REMOVE is about. */
export function advertisedUser(f: Frame): string | undefined {
  return str(f.payload.user_id) ?? str(obj(f.payload.user)?.user_id);
}

/** Response types to the /list requests peers use (§3.11). */
const LIST_TYPES = new Set([
  "LIST_RESPONSE",
  "USER_LIST",
  "CTRL_LIST_RESP",
  "LIST",
  "LIST_RES",
  "ONLINE_USERS",
]);

/**
 * The user ids (in the order the server sent them) of a /list answer, or `undefined` when `f` is
 * not one. Reads `users`, `online_users` or `clients`, in the payload or at the top level; entries
 * are ids or objects with `user_id` / `id`.
 */
export function listedUsers(f: Frame): string[] | undefined {
  if (!LIST_TYPES.has(f.type)) return undefined;
  for (const where of [f.payload, f as Record<string, unknown>]) {
    for (const key of ["users", "online_users", "clients"]) {
      const rows = where[key];
      if (!Array.isArray(rows)) continue;
      return rows.flatMap((r) => {
        const id = str(r) ?? str(obj(r)?.user_id) ?? str(obj(r)?.id);
        return id === undefined ? [] : [id];
      });
    }
  }
  return undefined;
}

/** Display labels of a /list answer's entries, by user id (when it gives any). */
export function listedLabels(f: Frame): Map<string, string> {
  const labels = new Map<string, string>();
  for (const key of ["entries", "users", "online_users", "clients"]) {
    const rows = f.payload[key];
    if (!Array.isArray(rows)) continue;
    for (const r of rows) {
      const row = obj(r);
      const id = str(row?.user_id) ?? str(row?.id);
      const label = str(row?.display_name) ?? str(obj(row?.meta)?.display_name);
      if (id !== undefined && label !== undefined) labels.set(id, label);
    }
  }
  return labels;
}

/** The /list requests to try, in order: the plurality form first, then the aliases of §3.11. */
export const LIST_REQUESTS: readonly { type: string; payload: Record<string, unknown> }[] = [
  { type: "LIST_REQUEST", payload: {} },
  { type: "USER_LIST_REQ", payload: {} },
  { type: "CTRL_LIST", payload: {} },
  { type: "LIST_REQ", payload: {} },
  { type: "LIST", payload: {} },
  { type: "CLIENT_CMD", payload: { cmd: "/list" } },
];

/** True when `ids` is in ascending code-point order (UUIDs are ASCII). */
export function isSorted(ids: readonly string[]): boolean {
  return ids.every((id, i) => i === 0 || ids[i - 1]! <= id);
}

/** A frame carrying a delivered message: USER_DELIVER, or a MSG_DIRECT forwarded as is. */
export function isDelivery(f: Frame): boolean {
  return typeof f.payload.ciphertext === "string" &&
    (f.type === "USER_DELIVER" || f.type === "MSG_DIRECT" || f.type === "SERVER_DELIVER");
}

/** The sender of a delivery: payload.sender (§3.6.2), else the envelope `from`. */
export function deliveredSender(f: Frame): string | undefined {
  return str(f.payload.sender) ?? str(f.from);
}

/** Every ts a delivery carries: the envelope's, then payload ts / msg_ts / orig_ts (§3.3). */
export function deliveredTimestamps(f: Frame): number[] {
  const all = [f.ts, f.payload.ts, f.payload.msg_ts, f.payload.orig_ts];
  return [...new Set(all.filter((t): t is number => typeof t === "number"))];
}
