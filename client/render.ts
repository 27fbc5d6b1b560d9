/**
 * How client events look in a terminal.
 * @module
 */
import type { ClientEvent } from "./session.ts";
import { progressBar } from "./progress.ts";

/** The command summary shown by /help. */
export function helpText(): string {
  return [
    "  /list                 Online users, sorted",
    "  /tell <user> <text>   Direct message; <user> is an id or a display name",
    "  /all <text>           Message to everyone on the public channel",
    "  /file <user> <path>   Send a file (/file all <path> for the public channel)",
    "  /whois <user>         A user's key fingerprint, as the server's directory vouches for it",
    "  /help                 This help",
    "  /quit                 Leave",
  ].join("\n");
}

/** One event as a line of text. */
export function render(event: ClientEvent): string {
  switch (event.event) {
    case "ready":
      return `Connected as ${event.user_id} to server ${event.server_id || "(id not known yet)"}${
        event.hello === "quiet"
          ? ` (no reply to USER_HELLO and no ERROR within ${event.quiet_ms} ms: taken as accepted)`
          : ""
      }. ${
        event.server_pub
          ? "Server frames verified with its pinned key"
          : "Server frames NOT verified (no server key known)"
      }; DMs signed with content_sig layout ${event.content_sig}. Type /help.`;
    case "content_sig":
      return `* DMs through this server are now signed with content_sig layout ${event.layout}: ${event.learned_from}`;
    case "dm":
    case "public":
      return ""; // Shown whole, as a "message" (a long one arrives in several parts).
    case "list":
      return event.users.length === 0
        ? "Nobody is online."
        : event.users.map((u) => `  ${u.label}${u.label !== u.user_id ? ` (${u.user_id})` : ""}`)
          .join("\n");
    case "online":
      return `* ${event.label} is online`;
    case "offline":
      return `* ${event.label} left`;
    case "sent":
      return `(sent to ${event.label}${event.parts > 1 ? ` in ${event.parts} parts` : ""})`;
    case "error":
      return `! ${event.code}: ${event.detail}`;
    case "warning":
      return `! ${event.message}`;
    case "closed":
      return `Disconnected (${event.code}${event.reason ? `: ${event.reason}` : ""}).`;
    case "channel_key":
      return event.verified ? "" : "! public channel key share did not verify";
    case "file_sent":
      return `(file ${event.name} sent to ${event.to})`;
    case "file_offer":
      return `* ${event.label} is sending ${event.name} (${event.size} bytes)${
        event.verified ? "" : " (manifest UNVERIFIED)"
      }`;
    case "file_saved":
      return `* saved ${event.name} to ${event.path} (sha256 ${event.sha256.slice(0, 16)}..., ${
        event.verified ? "verified" : "UNVERIFIED sender"
      })`;
    case "file_failed":
      return `! file ${event.name} from ${event.from} failed: ${event.reason}`;
    case "progress":
      return progressBar(event);
    case "whois":
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
    case "delivery":
      return ""; // Told per message, as "message_state".
    case "message":
    case "message_state":
    case "connection":
    case "contacts":
    case "key_changed":
    case "file_ready":
      return coreLine(event);
    case "login_registered":
      return "(your encrypted key is stored on the server: log in elsewhere with --login YOUR_ID)";
  }
}

/** Lines for the client core's whole-message, delivery and connection events. */
function coreLine(
  event: Extract<
    ClientEvent,
    {
      event: "message" | "message_state" | "connection" | "contacts" | "key_changed" | "file_ready";
    }
  >,
): string {
  switch (event.event) {
    case "message":
      return `${clockTime(event.ts)} ${event.label} → ${
        event.direction === "out"
          ? (event.conv === "public" ? "public" : event.to)
          : event.conv === "public"
          ? "public"
          : "me"
      }: ${event.text}${event.state ? ` (${event.state})` : ""}${
        event.verified ? "" : "   (UNVERIFIED: signature check failed)"
      }`;
    case "message_state":
      return `(${clockTime(event.ts)} message to ${event.to}: ${event.state})`;
    case "connection":
      return connectionLine(event.connection);
    case "contacts":
    case "key_changed":
    case "file_ready":
      return event.event === "file_ready"
        ? `* ${event.name} from ${event.label} is ready: /accept ${event.file_id}`
        : "";
  }
}

/** Local wall-clock time as HH:MM. */
function clockTime(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function connectionLine(c: Extract<ClientEvent, { event: "connection" }>["connection"]): string {
  switch (c.state) {
    case "connecting":
      return c.attempt > 1 ? `* connecting (attempt ${c.attempt})…` : "";
    case "online":
      return "";
    case "waiting":
      return `* offline: ${c.reason}; reconnecting in ${
        Math.max(0, Math.ceil((c.retry_at - Date.now()) / 1000))
      } s`;
    case "stopped":
      return "";
  }
}
