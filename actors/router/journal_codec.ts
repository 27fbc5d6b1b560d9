/**
 * How Router inputs are written to the journal and read back for replay. A frame's row keeps the
 * raw text (the link re-parses and re-verifies it during replay); anything else an input carries
 * that the text cannot give, such as an id drawn at random, goes into `input` as JSON.
 * @module
 */
import type { JournalRow, StoredJournalRow } from "../../store/store.ts";
import type { PeerEntry, RouterInput } from "./router_messages.ts";

/** The journal row for one decided input. */
export function journalRow(
  input: RouterInput,
  verdict: { accepted: boolean; reason: string },
  event_seq: number,
): JournalRow {
  const base = {
    at_ms: input.at_ms,
    verdict: verdict.accepted ? "accepted" as const : "dropped" as const,
    reason: verdict.reason,
    event_seq,
  };
  switch (input.type) {
    case "UserHello":
      return {
        ...base,
        link: input.link,
        kind: "frame",
        raw: input.raw,
        input: input.auth
          ? JSON.stringify({ auth_nonce: input.auth.nonce, auth_response: input.auth.response })
          : "",
      };
    case "FromUser":
    case "FromServer":
    case "Refused":
      return { ...base, link: input.link, kind: "frame", raw: input.raw, input: "" };
    case "ServerHello":
      return {
        ...base,
        link: input.link,
        kind: "frame",
        raw: input.raw,
        input: JSON.stringify({ fresh_id: input.fresh_id }),
      };
    case "LinkClosed":
      return {
        ...base,
        link: input.link,
        kind: "close",
        raw: "",
        input: JSON.stringify({ reason: input.reason }),
      };
    case "ServerDialed":
      return {
        ...base,
        link: input.link,
        kind: "dial",
        raw: "",
        input: JSON.stringify({ server_id: input.server_id }),
      };
    case "Welcomed":
      return {
        ...base,
        link: input.link,
        kind: "welcome",
        raw: input.raw,
        input: JSON.stringify({ introducer: input.introducer, servers: input.servers }),
      };
    case "Rekeyed":
      return {
        ...base,
        link: "",
        kind: "rekey",
        raw: "",
        input: JSON.stringify({ version: input.version, wraps: input.wraps, shares: input.shares }),
      };
  }
}

/** The input of a non-frame row (frame rows go through their link again instead). */
export function inputOfRow(row: StoredJournalRow): RouterInput | undefined {
  const extra = row.input ? JSON.parse(row.input) : {};
  switch (row.kind) {
    case "close":
      return {
        type: "LinkClosed",
        link: row.link,
        reason: String(extra.reason ?? ""),
        at_ms: row.at_ms,
      };
    case "dial":
      return {
        type: "ServerDialed",
        link: row.link,
        server_id: String(extra.server_id),
        at_ms: row.at_ms,
      };
    case "welcome":
      return {
        type: "Welcomed",
        link: row.link,
        introducer: extra.introducer as PeerEntry,
        servers: extra.servers as PeerEntry[],
        raw: row.raw,
        at_ms: row.at_ms,
      };
    case "rekey":
      return {
        type: "Rekeyed",
        version: extra.version,
        wraps: extra.wraps,
        shares: extra.shares,
        at_ms: row.at_ms,
      };
    case "frame":
    case "note":
    case "outbound":
      return undefined;
  }
}
