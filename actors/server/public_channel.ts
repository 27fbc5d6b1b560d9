/**
 * The public channel's keys (§3.7, §6.3): on a change of membership this server makes a new
 * random 256-bit key, wraps it with RSA-OAEP for each member it hosts, signs the key shares, and
 * hands the result to the Router as one `Rekeyed` input. Randomness and RSA live here, outside
 * the pure `decide`. Joins arriving close together share one rekey, because each rekey costs one
 * RSA encryption per member. Messages do not use this key (per-recipient RSA, §15 P11); it is
 * kept for conformance, and the clear key is dropped as soon as it is wrapped.
 * @module
 */
import { signKeyShare } from "../../crypto/signing.ts";
import type { PrivateKey, PublicKey, RsaBackend } from "../../crypto/types.ts";
import type { Logger } from "../../lib/log.ts";
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import { b64uEncode } from "../../protocol/base64url.ts";
import {
  PUBLIC_CHANNEL_REKEY_DELAY_MS_PER_MEMBER,
  PUBLIC_CHANNEL_SHARES_PER_FRAME,
} from "../../protocol/limits.ts";
import type { RouterInput } from "../router/router_messages.ts";
import type { RouterState } from "../router/router_state.ts";

/** What the public-channel actor needs. */
export interface PublicChannelContext {
  backend: RsaBackend;
  key: PrivateKey;
  clock: Clock;
  random: Random;
  log: Logger;
  state: () => Readonly<RouterState>;
  post: (input: RouterInput) => boolean;
  delayMs: number;
}

/** Prepares public-channel rekeys, one at a time, coalescing requests. */
export class PublicChannelKeys {
  #timer: TimerId | undefined;
  #running = false;
  #again = false;
  #keys = new Map<string, PublicKey>();
  #stopped = false;

  constructor(private readonly ctx: PublicChannelContext) {}

  /** Asks for a rekey soon; requests before it starts are served by the same rekey. */
  request(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#timer ??= this.ctx.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#rekey();
    }, this.ctx.delayMs + this.ctx.state().users.size * PUBLIC_CHANNEL_REKEY_DELAY_MS_PER_MEMBER);
  }

  /** Cancels pending work. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.ctx.clock.clearTimeout(this.#timer);
  }

  async #rekey(): Promise<void> {
    this.#running = true;
    try {
      const { backend, key, random } = this.ctx;
      const state = this.ctx.state();
      const version = state.public_channel.version + 1;
      const members = [...state.users.keys()].filter((u) => state.public_channel.members.has(u))
        .sort();
      const groupKey = random.bytes(32);
      const wraps: { member_id: string; wrapped_key: string }[] = [];
      for (const member of members) {
        const pub = await this.#publicKey(state.users.get(member)!.pubkey);
        if (pub) {
          wraps.push({
            member_id: member,
            wrapped_key: b64uEncode(await backend.encrypt(pub, groupKey)),
          });
        }
      }
      groupKey.fill(0);
      const shares = [];
      for (let i = 0; i < wraps.length; i += PUBLIC_CHANNEL_SHARES_PER_FRAME) {
        const chunk = wraps.slice(i, i + PUBLIC_CHANNEL_SHARES_PER_FRAME).map((w) => ({
          member: w.member_id,
          wrapped_public_channel_key: w.wrapped_key,
        }));
        const creator_pub = key.publicKey.spki;
        const content_sig = await signKeyShare(backend, key, chunk, creator_pub);
        shares.push({
          members: chunk.map((c) => c.member),
          payload: { shares: chunk, creator_pub, content_sig },
        });
      }
      if (!this.#stopped) {
        this.ctx.post({ type: "Rekeyed", version, wraps, shares, at_ms: this.ctx.clock.now() });
      }
    } catch (e) {
      this.ctx.log.error("public channel rekey failed", { error: String(e) });
    } finally {
      this.#running = false;
      if (this.#again) {
        this.#again = false;
        this.request();
      }
    }
  }

  async #publicKey(spki: string): Promise<PublicKey | undefined> {
    let key = this.#keys.get(spki);
    if (!key) {
      const imported = await this.ctx.backend.importPublic(spki);
      if (!imported.ok) return undefined;
      key = imported.key;
      this.#keys.set(spki, key);
    }
    return key;
  }
}
