/**
 * Mandatory features seen from two users (spec §14/§18, SOCP-1.3.md §8): connecting, /list, the
 * standard error codes, and the server's transport signatures. The DM checks are in
 * `checks_dm.ts`.
 * @module
 */
import { verifyPayload } from "../crypto/signing.ts";
import type { Check } from "./check.ts";
import { fail, type Outcome, pass, skip } from "./outcome.ts";
import type { ProbeContext } from "./context.ts";
import { directPayload } from "./checks_dm.ts";
import type { Frame } from "./peer.ts";
import { advertisedUser, describe, errorCode, isSorted, listedLabels, str } from "./tolerant.ts";
import { type HelloOutcome, ProbeUser } from "./user.ts";

const SIGNED_FRAMES = "§1, §15 P5 (spec §18)";

function helloText(o: HelloOutcome): string {
  switch (o.kind) {
    case "accepted":
      return `answered ${describe(o.reply)}`;
    case "silent":
      return "no reply (the spec defines none; socket stays open)";
    case "rejected":
    case "unreachable":
      return o.why;
  }
}

export const usersConnect: Check = {
  name: "users-connect",
  group: "mandatory",
  section: "§3.5 (spec §9.1, §14)",
  async run(ctx) {
    const texts: string[] = [];
    for (const [name, key] of [["A", ctx.keys.a], ["B", ctx.keys.b]] as const) {
      const { user, outcome } = await ProbeUser.hello(ctx, { key, displayName: `probe-${name}` });
      if (outcome.kind === "unreachable") return fail(`cannot reach the server: ${outcome.why}`);
      if (outcome.kind === "rejected") {
        return fail(`USER_HELLO of user ${name} (RSA-4096) refused: ${outcome.why}`);
      }
      if (outcome.kind === "silent") ctx.helloReplies = false;
      if (outcome.kind === "accepted") {
        await ctx.learnFromReply(outcome.reply, "hello reply", key.spki);
      }
      if (name === "A") ctx.a = user;
      else ctx.b = user;
      texts.push(`${name} ${helloText(outcome)}`);
    }
    const a = ctx.a!;
    const b = ctx.b!;
    const relayed = await a.peer.waitFor(
      (f) => f.type === "USER_ADVERTISE" && advertisedUser(f) === b.id,
      ctx.upTo(1000),
    );
    ctx.relaysAdvertises = relayed !== undefined;
    return pass(
      `users A and B connected with RSA-4096 keys: ${texts.join("; ")}${
        ctx.relaysAdvertises ? "; A was told about B by USER_ADVERTISE" : ""
      }`,
    );
  },
};

export const listSorted: Check = {
  name: "list-sorted",
  group: "mandatory",
  section: "§3.11, §8 (spec §14)",
  requires: ["users-connect"],
  async run(ctx) {
    const a = ctx.a!;
    const b = ctx.b!;
    const users = await a.list();
    if (users === undefined) {
      if (a.advertised().has(b.id)) {
        return pass(
          "no /list request is answered (LIST_REQUEST and its aliases); B is known from the " +
            "relayed USER_ADVERTISE, so the list is built by the client (§3.11)",
        );
      }
      return fail(
        "no answer to LIST_REQUEST or its aliases, and no relayed USER_ADVERTISE for B: " +
          "a client cannot list online users",
      );
    }
    const via = ctx.listRequest === "none" ? "" : ctx.listRequest!.type;
    const missing = [["A", a.id], ["B", b.id]].filter(([, id]) => !users.includes(id!));
    if (missing.length > 0) {
      return fail(
        `${via} answer lacks user ${missing.map(([n]) => n).join(" and ")}: got ${
          JSON.stringify(users).slice(0, 300)
        }`,
      );
    }
    if (isSorted(users)) return pass(`${via}: ${users.length} user(s) incl. A and B, sorted by id`);
    const labels = listedLabels(a.lastList!);
    const byLabel = users.map((u) => (labels.get(u) ?? u).toLowerCase());
    if (labels.size > 0 && isSorted(byLabel)) {
      return pass(`${via}: ${users.length} user(s) incl. A and B, sorted by display name`);
    }
    return fail(`${via}: users are not sorted: ${JSON.stringify(users).slice(0, 300)}`);
  },
};

export const userNotFound: Check = {
  name: "user-not-found",
  group: "mandatory",
  section: "§3.6.1, §3.9 (spec §9.2, §9.5)",
  requires: ["users-connect"],
  async run(ctx) {
    const a = ctx.a!;
    const nobody = crypto.randomUUID();
    const ts = Date.now();
    const { payload } = await directPayload(ctx, {
      from: a.id,
      fromKey: ctx.keys.a,
      to: nobody,
      toKey: ctx.keys.a,
      text: "to nobody",
      ts,
    });
    const mark = a.peer.mark();
    a.send("MSG_DIRECT", nobody, payload, { ts });
    const answer = await a.peer.waitFor((f) => f.type === "ERROR", ctx.opts.timeoutMs, mark);
    return expectError(ctx, answer, "USER_NOT_FOUND", "a DM to an unknown user id");
  },
};

export const nameInUse: Check = {
  name: "name-in-use",
  group: "mandatory",
  section: "§3.5, §3.9 (spec §9.1)",
  requires: ["users-connect"],
  async run(ctx) {
    const a = ctx.a!;
    const { user, outcome } = await ProbeUser.hello(ctx, {
      key: ctx.keys.a,
      id: a.id,
      displayName: "probe-A-again",
    });
    user?.close();
    // A server that lets the newcomer take over closes A's session, perhaps a moment later.
    await a.peer.waitClosed(ctx.upTo(200));
    const kicked = !a.peer.isOpen ? "; and user A's first session was closed" : "";
    switch (outcome.kind) {
      case "unreachable":
        return fail(`cannot reach the server: ${outcome.why}`);
      case "accepted":
        return fail(
          `a second USER_HELLO for the connected user id was accepted (${
            describe(outcome.reply)
          })${kicked}`,
        );
      case "silent":
        return fail(`no ERROR NAME_IN_USE within ${ctx.opts.timeoutMs} ms${kicked}`);
      case "rejected": {
        const code = outcome.frame ? errorCode(outcome.frame) : undefined;
        if (code === "NAME_IN_USE" && !kicked) {
          return pass("the duplicate USER_HELLO got ERROR NAME_IN_USE; A stays connected");
        }
        return fail(`the duplicate USER_HELLO got ${outcome.why}, not ERROR NAME_IN_USE${kicked}`);
      }
    }
  },
};

export const unknownType: Check = {
  name: "unknown-type",
  group: "mandatory",
  section: "§3.9, §10 (spec §9.5)",
  requires: ["users-connect"],
  async run(ctx) {
    const a = ctx.a!;
    const mark = a.peer.mark();
    a.send("SOCP_PROBE_NO_SUCH_TYPE", ctx.serverId ?? "server", { probe: true });
    const answer = await a.peer.waitFor((f) => f.type === "ERROR", ctx.opts.timeoutMs, mark);
    return expectError(ctx, answer, "UNKNOWN_TYPE", "a frame of an unknown type");
  },
};

export const serverSignsFrames: Check = {
  name: "server-signs-frames",
  group: "mandatory",
  section: SIGNED_FRAMES,
  async run(ctx) {
    if (ctx.serverKey === undefined) {
      return skip(
        "the server's key is unknown (no server_pub in its hello reply, none in a " +
          "SERVER_WELCOME); pass --server-pubkey",
      );
    }
    const id = ctx.serverId;
    const frames = ctx.peers.flatMap((p) => p.received).filter((f) =>
      id !== undefined && f.from === id && f.type !== "CTRL_CLOSE"
    );
    if (frames.length === 0) return skip(`no frame from server id ${id} was received`);
    const unsigned = new Set<string>();
    const bad = new Set<string>();
    for (const f of frames) {
      const sig = str(f.sig) ?? "";
      if (sig === "") unsigned.add(f.type);
      else if (!(await verifyPayload(ctx.backend, ctx.serverKey, f.payload, sig))) bad.add(f.type);
    }
    const problems = [...ctx.serverKeyConflicts];
    if (unsigned.size > 0) problems.push(`unsigned: ${[...unsigned].join(", ")}`);
    if (bad.size > 0) {
      problems.push(
        `sig does not verify with the key of ${ctx.serverKeySource}: ${[...bad].join(", ")}`,
      );
    }
    if (problems.length > 0) return fail(problems.join("; "));
    const types = [...new Set(frames.map((f) => f.type))].join(", ");
    return pass(
      `all ${frames.length} frames from the server verify with the key of ` +
        `${ctx.serverKeySource} (${types})`,
    );
  },
};

function expectError(
  ctx: ProbeContext,
  answer: Frame | undefined,
  code: string,
  what: string,
): Outcome {
  if (answer === undefined) {
    return fail(`no ERROR within ${ctx.opts.timeoutMs} ms for ${what}; expected ${code}`);
  }
  const got = errorCode(answer);
  if (got === code) return pass(`${what} got ERROR ${code}`);
  return fail(`${what} got ${describe(answer)}; expected ${code}`);
}
