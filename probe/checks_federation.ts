/**
 * Checks over a server link (§3.1-§3.3, §4): the probe links as a peer server, advertises a
 * remote user of its own, delivers to user B with SERVER_DELIVER, and then tries the federation
 * weaknesses of the spec's §16: a replayed SERVER_DELIVER, and USER_ADVERTISE frames that are
 * unsigned or signed by the wrong key.
 *
 * Every negative observation is anchored by a positive one sent after it on the same link (a
 * validly signed advertise that does show up, a first copy that is delivered), so a target that
 * simply ignores the probe is reported as SKIP, never as a PASS it did not earn.
 * @module
 */
import { dmPreimages } from "../crypto/preimages.ts";
import { b64uEncode } from "../protocol/base64url.ts";
import type { Check } from "./check.ts";
import { fail, pass, skip } from "./outcome.ts";
import type { ProbeContext } from "./context.ts";
import { signBytes, type SigningKey } from "./keys.ts";
import { ProbeLink } from "./link.ts";
import type { Frame } from "./peer.ts";
import { advertisedUser, describe, isDelivery } from "./tolerant.ts";
import { sameBytes, SILENT_DROP } from "./checks_dm.ts";

const FORGED_ADVERTISE = "§3.2.1, §15 P5 (spec §8.2, §16)";

/** A USER_ADVERTISE payload for `user` on the probe's server (§3.2.1, key in both places). */
function advertise(ctx: ProbeContext, user: string, name: string): Record<string, unknown> {
  const pubkey = ctx.keys.server.spki;
  return {
    user_id: user,
    server_id: ctx.link!.id,
    meta: { display_name: name, pubkey },
    pubkey,
  };
}

/** A signed SERVER_DELIVER from the probe's remote user to user B (§3.3). */
async function deliverToB(ctx: ProbeContext): Promise<{ frame: Frame; ciphertext: Uint8Array }> {
  const link = ctx.link!;
  const b = ctx.b!;
  const ts = Date.now();
  const text = `socp-probe via server ${crypto.randomUUID()}`;
  const bytes = await ctx.backend.encrypt(
    ctx.keys.b.priv.publicKey,
    new TextEncoder().encode(text),
  );
  const ciphertext = b64uEncode(bytes);
  const preimage = dmPreimages({ ciphertext, from: ctx.remoteUser, to: b.id, ts }).A!;
  const payload = {
    user_id: b.id,
    ciphertext,
    sender: ctx.remoteUser,
    sender_pub: ctx.keys.server.spki,
    content_sig: signBytes(ctx.keys.server, preimage, ctx.opts.saltLength),
  };
  return {
    frame: ctx.frame(ctx.keys.server, {
      type: "SERVER_DELIVER",
      from: link.id,
      to: link.target,
      payload,
      ts,
    }),
    ciphertext: bytes,
  };
}

export const federationLink: Check = {
  name: "federation-link",
  group: "mandatory",
  section: "§3.1, §3.2.1 (spec §8.1, §8.2, §14)",
  // A server link needs no users: it runs even when the user checks failed, and only the
  // presence step (seen by user A) waits for them.
  async run(ctx) {
    const { link, reason } = await ProbeLink.establish(ctx);
    if (link === undefined) return skip(`no server link: ${reason}`);
    ctx.link = link;
    ctx.remoteUser = crypto.randomUUID();
    link.send("USER_ADVERTISE", "*", advertise(ctx, ctx.remoteUser, "probe-remote"));
    if (!ctx.passed("users-connect")) {
      return pass(`${reason}; presence not observed: no probe user is connected`);
    }
    const seen = await ctx.a!.waitSees(ctx.remoteUser, ctx.opts.timeoutMs);
    if (seen === true) {
      return pass(`${reason}; its signed USER_ADVERTISE reached user A`);
    }
    if (seen === undefined) {
      return skip(`${reason}; but user A cannot observe presence (no /list, no relayed advertise)`);
    }
    const errors = link.peer.received.filter((f) => f.type === "ERROR").map(describe);
    return skip(
      `${reason}; but its signed USER_ADVERTISE never reached user A${
        errors.length ? ` (link got ${errors.join(", ")})` : ""
      }: the server may not accept unknown servers or our PSS salt (try --pss-salt 478)`,
    );
  },
};

/** Sends a forged advertise, then a valid marker; the forged user must stay invisible. */
async function forgedAdvertise(ctx: ProbeContext, signer: SigningKey | null, what: string) {
  const link = ctx.link!;
  const a = ctx.a!;
  const fake = crypto.randomUUID();
  const marker = crypto.randomUUID();
  const mark = a.peer.mark();
  link.send("USER_ADVERTISE", "*", advertise(ctx, fake, "probe-forged"), { signer });
  link.send("USER_ADVERTISE", "*", advertise(ctx, marker, "probe-marker"));
  if ((await a.waitSees(marker, ctx.opts.timeoutMs)) !== true) {
    return skip(`a validly signed advertise sent after the ${what} one did not show up either`);
  }
  const relayed =
    a.peer.since(mark, (f) => f.type === "USER_ADVERTISE" && advertisedUser(f) === fake).length > 0;
  const listed = (await a.list())?.includes(fake) === true;
  if (relayed || listed) {
    const how = [listed ? "is in /list" : "", relayed ? "was relayed to user A" : ""]
      .filter(Boolean).join(" and ");
    return fail(`a USER_ADVERTISE ${what} was trusted: its fake user ${how}`);
  }
  return pass(
    `the USER_ADVERTISE ${what} was dropped: its user is neither listed nor relayed ` +
      "(a valid one sent after it was)",
  );
}

export const advertiseUnsigned: Check = {
  name: "advertise-unsigned",
  group: "weakness",
  section: FORGED_ADVERTISE,
  requires: ["federation-link", "users-connect"],
  run: (ctx) => forgedAdvertise(ctx, null, "with no signature"),
};

export const advertiseWrongKey: Check = {
  name: "advertise-wrong-key",
  group: "weakness",
  section: FORGED_ADVERTISE,
  requires: ["federation-link", "users-connect"],
  // User B's key: a real RSA-4096 key, just not the one the probe's server pinned.
  run: (ctx) => forgedAdvertise(ctx, ctx.keys.b, "signed by the wrong key"),
};

export const federationDeliver: Check = {
  name: "federation-deliver",
  group: "mandatory",
  section: "§3.3, §4 (spec §8.3, §14)",
  requires: ["federation-link", "users-connect"],
  async run(ctx) {
    const b = ctx.b!;
    const { frame, ciphertext } = await deliverToB(ctx);
    const mark = b.peer.mark();
    const linkMark = ctx.link!.peer.mark();
    ctx.link!.peer.send(frame);
    const got = await b.peer.waitFor(isDelivery, ctx.opts.timeoutMs, mark);
    if (got === undefined) {
      const errors = ctx.link!.peer.since(linkMark, (f) => f.type === "ERROR").map(describe);
      return fail(
        `a signed SERVER_DELIVER for B did not reach B within ${ctx.opts.timeoutMs} ms${
          errors.length ? ` (link got ${errors.join(", ")})` : `; ${SILENT_DROP}`
        }`,
      );
    }
    if (!sameBytes(got.payload.ciphertext, ciphertext)) {
      return fail(`SERVER_DELIVER reached B as ${got.type} with a different ciphertext`);
    }
    return pass(`a signed SERVER_DELIVER reached B as ${got.type}, ciphertext unchanged`);
  },
};

export const replayServerDeliver: Check = {
  name: "replay-server-deliver",
  group: "weakness",
  section: "§4, §15 P13 (spec §10, §16)",
  requires: ["federation-deliver"],
  async run(ctx) {
    const b = ctx.b!;
    const { frame, ciphertext } = await deliverToB(ctx);
    const mark = b.peer.mark();
    ctx.link!.peer.send(frame);
    ctx.link!.peer.send(frame);
    const ours = (f: Frame) => isDelivery(f) && sameBytes(f.payload.ciphertext, ciphertext);
    const first = await b.peer.waitFor(ours, ctx.opts.timeoutMs, mark);
    if (first === undefined) return skip("the first copy was not delivered either");
    const after = b.peer.received.indexOf(first) + 1;
    const second = await b.peer.waitFor(ours, ctx.upTo(1500), after);
    if (second !== undefined) {
      return fail(
        "the same signed SERVER_DELIVER, sent twice, was delivered twice: " +
          "no duplicate suppression (seen_ids)",
      );
    }
    return pass("the same signed SERVER_DELIVER sent twice was delivered once");
  },
};
