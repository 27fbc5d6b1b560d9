// Goal: the rate limiter admits a legitimate burst (a file transfer's 64-chunk window), refuses
// what exceeds the sustained rate with a detail naming the limit, and refills with time only.
import assert from "node:assert/strict";
import { ManualClock } from "./world.ts";
import { FILE_WINDOW_CHUNKS } from "../protocol/limits.ts";
import { DEFAULT_LIMITS } from "../protocol/limits.ts";
import { isLimitRefusal, LinkRateLimiter, RATE_LIMIT_DETAIL, TokenBucket } from "./token_bucket.ts";

Deno.test("TokenBucket starts full, empties, and refills at its rate up to its capacity", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(10, 20, clock);
  for (let i = 0; i < 20; i++) assert.ok(bucket.take(), `token ${i}`);
  assert.equal(bucket.take(), false, "empty after the burst");
  clock.advance(100); // 10/s for 0.1 s: one token
  assert.ok(bucket.take());
  assert.equal(bucket.take(), false);
  clock.advance(60_000);
  assert.equal(bucket.tokens, 20, "never above capacity");
});

Deno.test("TokenBucket takes costs above one and lets a full bucket pay for an oversized item", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(1000, 1000, clock);
  assert.ok(bucket.take(600));
  assert.equal(bucket.take(600), false, "400 left, 600 asked: refused, nothing taken");
  assert.equal(Math.round(bucket.tokens), 400);
  clock.advance(1000);
  assert.ok(bucket.take(5000), "a full bucket admits one item larger than its capacity");
  assert.equal(bucket.take(1), false, "and then owes for it");
  clock.advance(4000);
  assert.equal(bucket.take(1), false, "still paying back");
  clock.advance(1100);
  assert.ok(bucket.take(1));
});

Deno.test("TokenBucket ignores a clock stepping backwards and refuses nonsense settings", () => {
  let now = 1_000_000;
  const bucket = new TokenBucket(1, 1, { now: () => now });
  assert.ok(bucket.take());
  now -= 50_000;
  assert.equal(bucket.take(), false);
  now += 1_000;
  assert.ok(bucket.take(), "time moving forward again refills");
  assert.throws(() => new TokenBucket(0, 1, { now: () => 0 }), RangeError);
  assert.throws(() => new TokenBucket(1, 0, { now: () => 0 }), RangeError);
});

Deno.test("TokenBucket says how long to wait for a cost", () => {
  const clock = new ManualClock();
  const bucket = new TokenBucket(100, 10, clock);
  assert.equal(bucket.waitMs(10), 0);
  assert.ok(bucket.take(10));
  assert.equal(bucket.waitMs(1), 10);
  assert.equal(bucket.waitMs(50), 100, "a cost above capacity waits only for a full bucket");
  clock.advance(10);
  assert.equal(bucket.waitMs(1), 0);
});

Deno.test("LinkRateLimiter paces file-transfer windows to the default rate without refusing", () => {
  const clock = new ManualClock();
  const limits = {
    framesPerS: DEFAULT_LIMITS.user_frames_per_s,
    bytesPerS: DEFAULT_LIMITS.user_bytes_per_s,
    burstS: DEFAULT_LIMITS.burst_s,
  };
  const limiter = new LinkRateLimiter("user", limits, clock);
  // The first windows of a transfer (64 chunks of ~900 bytes) pass at once: the burst covers
  // several windows.
  const burstWindows = Math.floor(limits.framesPerS * limits.burstS / FILE_WINDOW_CHUNKS);
  assert.ok(burstWindows >= 2, `the burst holds ${burstWindows} windows`);
  for (let i = 0; i < burstWindows * FILE_WINDOW_CHUNKS; i++) {
    assert.equal(limiter.waitMs(900), 0, `chunk ${i}`);
    assert.ok(limiter.take(900));
  }
  while (limiter.take(900)) { /* spend the rest of the burst */ }
  // After that, a chunk waits 1/rate s: shaped, never dropped.
  assert.equal(limiter.waitMs(900), Math.ceil(1000 / limits.framesPerS));
  clock.advance(1000);
  let passed = 0;
  while (limiter.take(900)) passed++;
  assert.equal(passed, limits.framesPerS, "one second buys one second's worth of frames");
  // A frame of the largest size is paid for, not refused.
  clock.advance(10_000);
  assert.ok(limiter.take(DEFAULT_LIMITS.user_frame_bytes_max));
});

Deno.test("LinkRateLimiter shapes by frames and by bytes, and names its limits", () => {
  const clock = new ManualClock();
  const limiter = new LinkRateLimiter("user", { framesPerS: 5, bytesPerS: 1000, burstS: 2 }, clock);
  for (let i = 0; i < 10; i++) assert.ok(limiter.take(10));
  assert.equal(limiter.take(10), false, "frames: burst of 10 spent");
  assert.equal(limiter.waitMs(10), 200);
  clock.advance(2000);
  assert.ok(limiter.take(1500), "bytes: 2000 burst, 1500 taken");
  assert.equal(limiter.waitMs(800), 300, "300 bytes short at 1000 bytes/s");
  assert.equal(limiter.bytesBurst, 2000);
  const detail = limiter.refusal(128, 4096);
  assert.match(
    detail,
    /user links may send 5 frames\/s and 1000 bytes\/s; 128 frames \(4096 bytes\)/,
  );
  assert.ok(isLimitRefusal(`TIMEOUT: ${RATE_LIMIT_DETAIL}${detail}`));
  assert.equal(isLimitRefusal("TIMEOUT: no frame for 50000 ms"), false);
});
