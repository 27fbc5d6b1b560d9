/**
 * How client events look in a terminal: names rather than ids (ids on demand with /whois),
 * one line per event. Times and the state of our own messages are added by the transcript
 * (`tty/transcript.ts`).
 * @module
 */
import type { ClientEvent } from "./session.ts";
import { progressBar, size } from "./progress.ts";

/** The command summary shown by /help. */
export function helpText(): string {
  return [
    "  /list                 Users online and seen before, sorted by name",
    "  /tell <user> <text>   Direct message; <user> is a display name or an id",
    "  /all <text>           Message to everyone on the public channel",
    "  /file <user> <path>   Send a file (/file all <path> for the public channel)",
    "  /accept <id>|all      Save a file offered to you (files are saved only when accepted)",
    "  /history <user> [n]   The last n (default 20) messages with a user (or public), kept encrypted",
    "  /whois <user>         A user's id and key fingerprint, as the server's directory vouches",
    "  /trust <user>         Accept a user's changed key, after comparing fingerprints with them",
    "  /help                 This help",
    "  /quit                 Leave (or Ctrl-C, or Ctrl-D on an empty line)",
  ].join("\n");
}

/** Turns a user id into the name to show (the id itself when no name is known). */
export type Names = (user_id: string) => string;

const unverified = (verified: boolean, what = "signature check failed") =>
  verified ? "" : `   (UNVERIFIED: ${what})`;

/**
 * One event as text (several lines for a list or a whois); "" for nothing to show. Whole
 * messages and their states are the transcript's (tty/transcript.ts), the connection's state
 * the status row's (tty/interactive.ts); the per-frame `dm`, `public` and `delivery` events
 * are for scripts (`--json`).
 */
export function render(event: ClientEvent, names: Names = (id) => id): string {
  switch (event.event) {
    case "ready":
      return renderReady(event);
    case "content_sig":
      return `* DMs through this server are now signed with content_sig layout ${event.layout}: ${event.learned_from}`;
    case "dm":
      return `${event.label}: ${event.text}${unverified(event.verified)}`;
    case "public":
      return `[public] ${event.label}: ${event.text}${unverified(event.verified)}`;
    case "list":
      return renderList(event.users);
    case "online":
      return `* ${event.label} is online`;
    case "offline":
      return `* ${event.label} left`;
    case "sent":
      return `me → ${event.label}${event.parts > 1 ? ` (${event.parts} parts)` : ""}`;
    case "error":
      return `! ${event.code}: ${event.detail}`;
    case "warning":
      return `! ${event.message}`;
    case "closed":
      return `* disconnected (${event.code}${event.reason ? `: ${event.reason}` : ""})`;
    case "channel_key":
      return event.verified ? "" : "! public channel key share did not verify";
    case "file_sent":
      return `* file ${event.name} sent to ${event.to}`;
    case "file_offer":
      return `* ${event.label} is sending ${event.name} (${size(event.size)})${
        unverified(event.verified, "manifest")
      }`;
    case "file_saved":
      return `* saved ${event.name} from ${names(event.from)} to ${event.path} (sha256 ${
        event.sha256.slice(0, 16)
      }…, ${event.verified ? "verified" : "UNVERIFIED sender"})`;
    case "file_failed":
      return `! file ${event.name} from ${names(event.from)} failed: ${event.reason}`;
    case "progress":
      return progressBar(event);
    case "whois":
      return renderWhois(event);
    case "delivery":
      return `* ${deliveryState(event.status)}${event.detail ? `: ${event.detail}` : ""}`;
    case "login_registered":
      return "* your sealed key is stored on the server: on another machine, use --login with your id";
    case "message":
      return renderMessage(event);
    case "key_changed":
      return `! ${event.label}'s key CHANGED (was ${event.previous.slice(0, 16)}…, now ${
        event.current.slice(0, 16)
      }…): nothing is sent to them until you compare fingerprints and type /trust ${event.label}`;
    case "file_ready":
      return `* ${event.label}'s file ${event.name} (${size(event.size)}) is ready: /accept ${
        shortId(event.file_id)
      } saves it`;
    case "history":
      return renderHistory(event, names);
    case "trusted":
      return `* ${event.label}'s new key is trusted: messages to them go out again`;
    case "message_state":
    case "connection":
    case "contacts":
      return "";
  }
}

/** A whole message, without its time: `bob: hi`, `me → bob: hi`, `[public] bob: hi`. */
export function renderMessage(
  m: Extract<ClientEvent, { event: "message" }>,
  names: Names = (id) => id,
): string {
  const gaps = m.missing.length > 0 ? `   (parts missing: ${m.missing.join(", ")})` : "";
  const note = unverified(m.verified, m.note ?? "signature check failed");
  if (m.direction === "in") {
    return `${m.conv === "public" ? "[public] " : ""}${m.label}: ${m.text}${note}${gaps}`;
  }
  const to = m.conv === "public" ? "public channel" : names(m.to);
  const reach = m.recipients !== undefined ? `  (to ${m.recipients} members)` : "";
  const skipped = m.skipped?.length ? `; skipped (key changed): ${m.skipped.join(", ")}` : "";
  const state = m.state ? `  ${deliveryState(m.state)}` : "";
  return `me → ${to}: ${m.text}${reach}${skipped}${state}`;
}

/** A file id short enough to type: its first 8 characters (`/accept` takes any unique prefix). */
export function shortId(file_id: string): string {
  return file_id.slice(0, 8);
}

/** A delivery status as the transcript shows it. */
export function deliveryState(status: string): string {
  switch (status) {
    case "sent":
      return "… sent";
    case "queued":
      return "… queued (offline)";
    case "delivered":
      return "✓ delivered";
    case "read":
      return "✓✓ read";
    case "expired":
      return "✗ expired undelivered";
    default:
      return status;
  }
}

/** The connection line: who we are, and whether the server's frames are verified. */
function renderReady(event: Extract<ClientEvent, { event: "ready" }>): string {
  const quiet = event.hello === "quiet"
    ? ` (no reply to USER_HELLO and no ERROR within ${event.quiet_ms} ms: taken as accepted)`
    : "";
  const trust = event.server_pub
    ? "server frames verified with its pinned key"
    : "server frames NOT verified (no server key known)";
  // Layout A is what every implementation reads; another one is worth saying.
  const layout = /^A\b/.test(event.content_sig)
    ? ""
    : `; DMs signed with content_sig layout ${event.content_sig}`;
  return `* connected${quiet}; ${trust}${layout}. Your id is ${event.user_id}. Type /help.`;
}

/**
 * The users by name; an id is shown only where two users share a name. Users seen before but
 * not online now (they can still be written to) are marked.
 */
function renderList(users: { user_id: string; label: string; online?: boolean }[]): string {
  const online = users.filter((u) => u.online !== false).length;
  if (users.length === 0) return "nobody is online";
  const count = new Map<string, number>();
  for (const u of users) count.set(u.label, (count.get(u.label) ?? 0) + 1);
  const known = online < users.length ? `, ${users.length - online} known offline` : "";
  return `online (${online}${known}):\n` +
    [...users].sort((a, b) => a.label.localeCompare(b.label) || (a.user_id < b.user_id ? -1 : 1))
      .map((u) =>
        `  ${u.label}${count.get(u.label)! > 1 && u.label !== u.user_id ? ` (${u.user_id})` : ""}${
          u.online === false ? "  (offline)" : ""
        }`
      )
      .join("\n");
}

/** `/history`: one line per message, oldest first, with its local date and time. */
function renderHistory(event: Extract<ClientEvent, { event: "history" }>, names: Names): string {
  if (event.entries.length === 0) return `no history with ${event.with}`;
  return `history with ${event.with} (${event.entries.length}):\n` +
    event.entries.map((e) =>
      `  ${day(e.ts)} ${hhmm(e.ts)} ${names(e.from)}: ${e.text}${unverified(e.verified)}`
    ).join("\n");
}

/** `14:02`, local time. */
export function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** `2026-12-06`, local date. */
function day(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

function renderWhois(event: Extract<ClientEvent, { event: "whois" }>): string {
  return [
    `${event.label} (${event.user_id})`,
    `  fingerprint ${event.fingerprint}`,
    `  server ${event.server_id}, ${
      event.online ? "online" : "offline"
    }, ${event.authority} (directory answer signed by your server)`,
    event.matches_advertised
      ? "  matches the key it advertised"
      : "  ! DIFFERS from the key it advertised",
    event.matches_pin ? "" : "  ! DIFFERS from the key you saw before",
    `  your DMs through this server: content_sig layout ${event.content_sig}`,
  ].filter(Boolean).join("\n");
}
