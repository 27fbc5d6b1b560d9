/**
 * One log line for each event an operator follows: a user joining or leaving, and a server link
 * coming up or going down. Read from the events the Router appends, so the lines say what the
 * log records, and folding the log at start prints nothing.
 * @module
 */
import type { Logger } from "../../lib/log.ts";
import type { RouterEvent } from "../../store/events.ts";

/** Logs `event` when it is one of the four an operator follows. */
export function logEvent(log: Logger, event: RouterEvent): void {
  switch (event.type) {
    case "UserArrived":
      return log.info("user joined", { user_id: event.user_id, link: event.link });
    case "UserLeft":
      return log.info("user left", { user_id: event.user_id, reason: event.reason });
    case "ServerLinked":
      return log.info("link up", {
        server_id: event.server_id,
        link: event.link,
        direction: event.outbound ? "outbound" : "inbound",
      });
    case "ServerUnlinked":
      return log.info("link down", {
        server_id: event.server_id,
        link: event.link,
        reason: event.reason,
      });
  }
}
