/**
 * The client core: everything a SOCP client does that is not a terminal or a page, used by both.
 *
 * - {@linkcode SessionCore} (session.ts) is the state machine of one user's connection: hello and
 *   the server's key (pinned, every frame verified), challenges, the directory with trust on
 *   first use of user keys, DMs and the public channel, confirmations and de-duplication,
 *   strictly increasing timestamps, content_sig layouts, delivery state, files, and
 *   reconnection with backoff (backoff.ts). It tells its shell what happened through one event
 *   vocabulary, {@linkcode CoreEvent} (events.ts).
 * - Pure parts beside it: long messages in numbered parts and their reassembly with gap markers
 *   (parts.ts), what became of each sent message (delivery.ts), names for users online or seen
 *   before (names.ts), file assembly and sending (files.ts), the encrypted local history
 *   (history.ts), and frame reading without zod (wire.ts).
 * - Everything outside comes through small ports (ports.ts): {@linkcode ClientCrypto} (the
 *   terminal's RSA backend, or WebCrypto in the page), a socket ({@linkcode Dial}), where keys
 *   and names are remembered ({@linkcode Memory}), and the injected clock and random source.
 *   The core imports only protocol/ and lib/, so the page's bundle carries it unchanged.
 *
 * The shells are thin: client/session.ts (npm:ws, the pins file, downloads folder, progress
 * with ETA, `/whois`, traces) and web/src/session.ts (the browser's WebSocket, IndexedDB), whose
 * page folds the events into its state with a pure function (web/src/state.ts).
 *
 * What a shell calls: `start()` / `stop()`, `tell(nameOrId, text)`, `sendPublic(text)`,
 * `transfer(nameOrId | "public", name, bytes)`, `accept(fileId)` (or `acceptFiles` to take every
 * file), `resolve(nameOrId)`, `users()` (sorted by label, offline ones too), `label(id)`,
 * `list()`, `directory(id)`, `history(nameOrId, limit)`, `trustNewKey(id)`, `retryNow()`.
 * @module
 */
export type { ConnectionState, CoreEvent, FileEvent, MessageEvent } from "./events.ts";
export { type Contact, type CoreOptions, SessionCore } from "./session.ts";
export type { ClientCrypto, Dial, KnownKey, Memory, ServerPin, Socket } from "./ports.ts";
export { History, type HistoryEntry, type HistoryStore, type KeyWrap } from "./history.ts";
export { backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
export type { DeliveryState } from "./delivery.ts";
