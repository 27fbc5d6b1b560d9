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

/** The client core's whole-message, delivery-state and connection events: a transcript's. */
type TranscriptEvent = Extract<
  ClientEvent,
  { event: "message" | "message_state" | "connection" | "contacts" | "key_changed" | "file_ready" }
>;

/** One event as a line of text; `undefined` for the events a transcript shows instead. */
export function render(event: Exclude<ClientEvent, TranscriptEvent>): string;
export function render(event: ClientEvent): string | undefined;
export function render(event: ClientEvent): string | undefined {
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
      return `[DM] ${event.label}: ${event.text}${
        event.verified ? "" : "   (UNVERIFIED: signature check failed)"
      }`;
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
    case "public":
      return `[public] ${event.label}: ${event.text}${
        event.verified ? "" : "   (UNVERIFIED: signature check failed)"
      }`;
    case "channel_key":
      return event.verified ? "" : "! public channel key share did not verify";
    case "file_sent":
      return `(file ${event.name} sent to ${event.to})`;
    case "file_offer":
      return `* ${event.from} is sending ${event.name} (${event.size} bytes)${
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
      return event.status === "delivered"
        ? `(delivered: ${event.msg_ref.split("|")[2] ?? event.msg_ref})`
        : `(${event.status}${event.detail ? `: ${event.detail}` : ""})`;
    case "login_registered":
      return "(your encrypted key is stored on the server: log in elsewhere with --login YOUR_ID)";
  }
}
