/**
 * The key weaknesses of the spec's §16: a USER_HELLO presenting an RSA-1024, RSA-2048 or e = 3
 * key, or a malformed key, must be refused (§5.3, §15 P1). Refused means an ERROR or a closed
 * connection; when the server answers nothing, whether the user shows up as online decides.
 * @module
 */
import { b64uEncode } from "../protocol/base64url.ts";
import type { Check } from "./check.ts";
import { fail, type Outcome, pass, skip } from "./outcome.ts";
import type { ProbeContext } from "./context.ts";
import type { SigningKey } from "./keys.ts";
import { describe } from "./tolerant.ts";
import { type HelloOutcome, ProbeUser } from "./user.ts";

const WEAK_KEYS = "§5.3, §15 P1 (spec §16)";

/** Says hello with a key that must be refused, and judges the outcome. */
async function mustRefuse(
  ctx: ProbeContext,
  what: string,
  pubkey: string,
  key: SigningKey | null,
): Promise<Outcome> {
  const { user, outcome } = await ProbeUser.hello(ctx, {
    pubkey,
    key,
    displayName: "probe-weak",
    // A server that answers good hellos is given the full step; a silent one is judged sooner.
    waitMs: ctx.helloReplies ? ctx.opts.timeoutMs : ctx.upTo(2000),
    graceMs: ctx.upTo(300),
  });
  try {
    return await judge(ctx, what, outcome, user);
  } finally {
    user?.close();
  }
}

async function judge(
  ctx: ProbeContext,
  what: string,
  outcome: HelloOutcome,
  user: ProbeUser | undefined,
): Promise<Outcome> {
  switch (outcome.kind) {
    case "unreachable":
      return skip(`cannot connect: ${outcome.why}`);
    case "rejected":
      return pass(`${what} refused: ${outcome.why}`);
    case "accepted":
      return fail(`${what} accepted: the server answered ${describe(outcome.reply)}`);
    case "silent": {
      const seen = ctx.a && user ? await ctx.a.sees(user.id) : undefined;
      if (seen === true) return fail(`${what}: no answer, but the user is listed as online`);
      if (seen === false) return pass(`${what}: no answer, and the user is not online`);
      return skip(`${what}: no answer, and no way to see whether the user was registered`);
    }
  }
}

function weakKeyCheck(name: string, pick: (ctx: ProbeContext) => SigningKey): Check {
  return {
    name,
    group: "weakness",
    section: WEAK_KEYS,
    requires: ["users-connect"],
    run(ctx) {
      const key = pick(ctx);
      return mustRefuse(ctx, `USER_HELLO with an ${key.label} key`, key.spki, key);
    },
  };
}

export const weakKey1024 = weakKeyCheck("weak-key-rsa1024", (ctx) => ctx.keys.rsa1024);
export const weakKey2048 = weakKeyCheck("weak-key-rsa2048", (ctx) => ctx.keys.rsa2048);
export const weakKeyE3 = weakKeyCheck("weak-key-e3", (ctx) => ctx.keys.e3);

export const malformedKeyGarbage: Check = {
  name: "malformed-key-garbage",
  group: "weakness",
  section: WEAK_KEYS,
  requires: ["users-connect"],
  run(ctx) {
    // As long as a real key, and valid base64url, but not DER.
    const garbage = b64uEncode(crypto.getRandomValues(new Uint8Array(550)));
    return mustRefuse(ctx, "USER_HELLO with a garbage key (random base64url)", garbage, null);
  },
};

export const malformedKeyTruncated: Check = {
  name: "malformed-key-truncated",
  group: "weakness",
  section: WEAK_KEYS,
  requires: ["users-connect"],
  run(ctx) {
    const truncated = ctx.keys.a.spki.slice(0, 400);
    return mustRefuse(ctx, "USER_HELLO with a truncated RSA-4096 key", truncated, null);
  },
};
