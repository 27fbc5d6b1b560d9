/**
 * The browser client's session: the client core (client/core/session.ts) with the page's ports
 * (WebCrypto, the browser's WebSocket, IndexedDB through {@linkcode Memory}). The page folds the
 * core's events into its state (state.ts). No DOM: only WebSocket and timers.
 * @module
 */
import { type Clock, systemClock, systemRandom } from "../../lib/world.ts";
import type { LayoutSetting } from "../../protocol/content_sig_layout.ts";
import type { CoreEvent } from "../../client/core/events.ts";
import type { History } from "../../client/core/history.ts";
import type { Memory } from "../../client/core/ports.ts";
import { type Contact as CoreContact, SessionCore } from "../../client/core/session.ts";
import { browserDial, webCrypto } from "./ports.ts";
import type { KeyPair, PublicKey } from "./rsa.ts";

export type { ConnectionState } from "../../client/core/events.ts";
export type { KnownKey, Memory, ServerPin } from "../../client/core/ports.ts";

/** Something the user should see: the client core's vocabulary. */
export type SessionEvent = CoreEvent;

/** A user in the directory. */
export type Contact = CoreContact<PublicKey>;

/** What a session needs. */
export interface SessionOptions {
  url: string;
  user_id: string;
  pair: KeyPair;
  display_name?: string;
  memory: Memory;
  onEvent: (event: SessionEvent) => void;
  /** First reconnect delay (doubles per failure, with jitter, up to `backoffMaxMs`). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Quiet milliseconds after USER_HELLO (no answer, no ERROR) after which we count as online. */
  helloQuietMs?: number;
  /** content_sig layout for DMs: one of A-D, or learned per server (default). */
  contentSig?: LayoutSetting;
  /** Timers for the quiet period after USER_HELLO (tests inject their own). */
  timers?: Pick<Clock, "setTimeout" | "clearTimeout">;
  /** Where messages are kept, encrypted at rest. */
  history?: History;
}

/** One user's connection, kept up until {@linkcode SessionCore.stop}. */
export class ChatSession extends SessionCore<PublicKey> {
  constructor(options: SessionOptions) {
    super({
      url: options.url,
      user_id: options.user_id,
      ...(options.display_name ? { display_name: options.display_name } : {}),
      client: "socp-web/0.1",
      crypto: webCrypto(options.pair),
      dial: browserDial,
      memory: options.memory,
      clock: systemClock,
      ...(options.timers ? { quietTimers: options.timers } : {}),
      random: systemRandom,
      onEvent: options.onEvent,
      backoff: { baseMs: options.backoffBaseMs ?? 1000, maxMs: options.backoffMaxMs ?? 30_000 },
      ...(options.helloQuietMs !== undefined ? { helloQuietMs: options.helloQuietMs } : {}),
      ...(options.contentSig ? { contentSig: options.contentSig } : {}),
      ...(options.history ? { history: options.history } : {}),
      // The page keeps a received file in memory and offers it for download: that is the accept.
      acceptFiles: true,
    });
  }

  /**
   * Sends a DM (numbered parts, in order, if it does not fit one RSA block). Returns each part's
   * reference (`sender|recipient|ts`), which delivery notices name.
   */
  async sendDm(user_id: string, text: string): Promise<string[]> {
    return (await this.tell(user_id, text)).refs;
  }

  /** Sends a file to one user, or to every online member (`"public"`). */
  async sendFile(
    target: string,
    name: string,
    data: Uint8Array,
    progress: (done: number, total: number) => void,
  ): Promise<{ file_id: string; recipients: number }> {
    const sent = await this.transfer(target, name, data, progress);
    return { file_id: sent.file_id, recipients: sent.recipients.length };
  }
}
