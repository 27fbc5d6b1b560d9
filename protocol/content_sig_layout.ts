/**
 * Which `content_sig` layout (SOCP-1.3.md §5.2: A, B, C, D) a client signs DMs with, per
 * server. We sign A; some peers verify only one other layout and silently drop the rest. A DM
 * that arrived through a server and verified under another layout shows what that server's
 * users (and the server itself) expect, so later DMs through it are signed that way. A layout
 * chosen by the user is never changed by what arrives. Pure; shared by both clients.
 * @module
 */

/** A content signature layout. */
export type Layout = "A" | "B" | "C" | "D";
/** What the user chose: one layout, or learn it per server. */
export type LayoutSetting = Layout | "auto";

/** The layouts, in the order verifiers try them. */
export const LAYOUTS: readonly Layout[] = ["A", "B", "C", "D"];

/** Parses a `--content-sig` value. */
export function parseLayoutSetting(text: string): LayoutSetting | undefined {
  const upper = text.trim().toUpperCase();
  if (upper === "AUTO") return "auto";
  return (LAYOUTS as readonly string[]).includes(upper) ? upper as Layout : undefined;
}

/** True when `value` is a layout (for data read back from storage). */
export function isLayout(value: unknown): value is Layout {
  return typeof value === "string" && (LAYOUTS as readonly string[]).includes(value);
}

/**
 * The layout to sign with after a DM through this server verified under `verified`
 * (`undefined`: it did not verify, which teaches nothing). Only a non-A layout is learned: A
 * verifying says nothing about what a one-layout peer needs.
 */
export function learnLayout(setting: LayoutSetting, current: Layout, verified?: Layout): Layout {
  if (setting !== "auto") return setting;
  return verified !== undefined && verified !== "A" ? verified : current;
}

/** The layout a session starts with: the user's choice, else what was learned, else A. */
export function initialLayout(setting: LayoutSetting, remembered?: Layout): Layout {
  return setting !== "auto" ? setting : remembered ?? "A";
}

/**
 * The layout of a DM to one peer: the user's choice; else the layout that peer's own DMs
 * verified under (a one-layout client answers in its layout, and a peer that signs A gets A
 * even where another peer taught the server's layout); else the server's layout.
 */
export function layoutFor(setting: LayoutSetting, server: Layout, peer?: Layout): Layout {
  if (setting !== "auto") return setting;
  return peer ?? server;
}

/** How the status line names the layout. */
export function describeLayout(setting: LayoutSetting, layout: Layout): string {
  return setting === "auto" ? `${layout} (auto)` : `${layout} (fixed)`;
}
