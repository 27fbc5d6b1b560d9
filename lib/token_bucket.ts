/**
 * Token buckets for per-link rate limits. A bucket holds at most `capacity` tokens and gains
 * `ratePerS` tokens per second of the injected clock; a frame takes one token from the frame
 * bucket and its length from the byte bucket. A link shapes its traffic with them: a frame
 * waits in the link's inbox until both buckets can pay for it, so a sender faster than the rate
 * is slowed (a windowed file transfer waits longer for its round trip). A sender that keeps
 * sending while frames wait is refused (ERROR TIMEOUT, see protocol/DECISIONS.md) and, after
 * enough refusals, closed.
 * @module
 */
import type { Clock } from "./world.ts";

/** A token bucket driven by a clock; nothing runs in the background. */
export class TokenBucket {
  #tokens: number;
  #lastMs: number;

  /**
   * @param ratePerS tokens added per second (the sustained rate)
   * @param capacity most tokens held at once (the burst); the bucket starts full
   * @param clock where time comes from
   */
  constructor(
    readonly ratePerS: number,
    readonly capacity: number,
    private readonly clock: Pick<Clock, "now">,
  ) {
    if (!(ratePerS > 0) || !(capacity >= 1)) {
      throw new RangeError(
        `token bucket needs rate > 0 and capacity >= 1, got ${ratePerS}/${capacity}`,
      );
    }
    this.#tokens = capacity;
    this.#lastMs = clock.now();
  }

  /** Tokens available now. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Takes `n` tokens if they are all there; false (and nothing taken) otherwise. A cost larger
   * than the capacity is allowed when the bucket is full, so one legal large item never starves.
   */
  take(n = 1): boolean {
    if (this.waitMs(n) > 0) return false;
    this.#tokens -= n;
    return true;
  }

  /** Milliseconds until {@linkcode take} of `n` would succeed (0: now). */
  waitMs(n = 1): number {
    this.#refill();
    const deficit = Math.min(n, this.capacity) - this.#tokens;
    return deficit <= 0 ? 0 : Math.ceil((deficit * 1000) / this.ratePerS);
  }

  #refill(): void {
    const now = this.clock.now();
    // A clock that steps backwards (NTP) adds nothing and does not punish either.
    const elapsed = Math.max(0, now - this.#lastMs);
    this.#lastMs = now;
    this.#tokens = Math.min(this.capacity, this.#tokens + (elapsed * this.ratePerS) / 1000);
  }
}

/** Sustained rates of one kind of link; the buckets hold `burstS` seconds' worth. */
export interface RateLimits {
  framesPerS: number;
  bytesPerS: number;
  burstS: number;
}

/** ERROR detail prefixes of limit refusals; the journal reason is `TIMEOUT: <detail>`. */
export const RATE_LIMIT_DETAIL = "rate limit: ";
export const CONNECTION_LIMIT_DETAIL = "connection limit: ";

/**
 * True when a journaled reason records a rate or connection limit refusal. Such a verdict
 * depends on arrival times, not on the frame, so replay keeps it as recorded.
 */
export function isLimitRefusal(reason: string): boolean {
  return reason.startsWith(`TIMEOUT: ${RATE_LIMIT_DETAIL}`) ||
    reason.startsWith(`TIMEOUT: ${CONNECTION_LIMIT_DETAIL}`);
}

/** A link's two buckets: frames per second and bytes per second. */
export class LinkRateLimiter {
  readonly #frames: TokenBucket;
  readonly #bytes: TokenBucket;

  constructor(readonly kind: string, readonly limits: RateLimits, clock: Pick<Clock, "now">) {
    this.#frames = new TokenBucket(
      limits.framesPerS,
      Math.max(1, limits.framesPerS * limits.burstS),
      clock,
    );
    this.#bytes = new TokenBucket(
      limits.bytesPerS,
      Math.max(1, limits.bytesPerS * limits.burstS),
      clock,
    );
  }

  /** Bytes the byte bucket holds when full: also the most a link may have waiting. */
  /** Frames the buckets hold at most: a burst that may arrive at once. */
  get framesBurst(): number {
    return this.#frames.capacity;
  }

  get bytesBurst(): number {
    return this.#bytes.capacity;
  }

  /** Milliseconds until a frame of `bytes` may be handled (0: now). */
  waitMs(bytes: number): number {
    return Math.max(this.#frames.waitMs(1), this.#bytes.waitMs(bytes));
  }

  /** Pays for a frame of `bytes` if both buckets can; false (nothing taken) otherwise. */
  take(bytes: number): boolean {
    if (this.waitMs(bytes) > 0) return false;
    this.#frames.take(1);
    this.#bytes.take(bytes);
    return true;
  }

  /** The ERROR detail (after {@linkcode RATE_LIMIT_DETAIL}) for a frame refused while others wait. */
  refusal(waitingFrames: number, waitingBytes: number): string {
    const { framesPerS, bytesPerS } = this.limits;
    return `${this.kind} links may send ${framesPerS} frames/s and ${bytesPerS} bytes/s; ${waitingFrames} frames (${waitingBytes} bytes) already wait their turn; frame dropped, slow down`;
  }
}
