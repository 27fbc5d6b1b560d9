/**
 * A probe user: USER_HELLO and its outcome (§3.5, with every reply style of §12 #16), signed user
 * frames, and the two ways to learn who is online — /list in any of its forms (§3.11) and the
 * USER_ADVERTISE / USER_REMOVE frames the server relays (§3.2).
 * @module
 */
import type { ProbeSession } from "./session.ts";
import type { SigningKey } from "./keys.ts";
import type { Frame, Peer } from "./peer.ts";
import {
  advertisedUser,
  assignedUserId,
  describe,
  helloVerdict,
  LIST_REQUESTS,
  listedUsers,
} from "./tolerant.ts";

/** What became of a USER_HELLO. */
export type HelloOutcome =
  | { kind: "accepted"; reply: Frame }
  | { kind: "rejected"; why: string; frame?: Frame }
  | { kind: "silent" }
  | { kind: "unreachable"; why: string };

/** What to say hello with. */
export interface HelloOptions {
  /** The key text to present in `payload.pubkey` (default: `key.spki`). */
  pubkey?: string;
  /** Signs the hello (proof of possession); null sends `"sig": ""`. */
  key: SigningKey | null;
  /** The user id (default: a fresh UUID v4). */
  id?: string;
  displayName?: string;
  /** After an accepting reply, wait this long for a late ERROR or close (weak-key checks). */
  graceMs?: number;
  /** How long to wait for the reply (default: the step timeout). */
  waitMs?: number;
}

/** A connected (or attempted) user. */
export class ProbeUser {
  /** The last /list answer. */
  lastList?: Frame;

  private constructor(
    private readonly ctx: ProbeSession,
    readonly peer: Peer,
    public id: string,
    readonly key: SigningKey | null,
  ) {}

  /** Opens a connection, says USER_HELLO and reports the outcome. */
  static async hello(
    ctx: ProbeSession,
    o: HelloOptions,
  ): Promise<{ user?: ProbeUser; outcome: HelloOutcome }> {
    let peer: Peer;
    try {
      peer = await ctx.open(`user ${o.displayName ?? "?"}`);
    } catch (e) {
      return { outcome: { kind: "unreachable", why: (e as Error).message } };
    }
    const id = o.id ?? crypto.randomUUID();
    const pubkey = o.pubkey ?? o.key?.spki ?? "";
    const payload: Record<string, unknown> = { client: "socp-probe/1", pubkey, enc_pubkey: pubkey };
    if (o.displayName !== undefined) payload.meta = { display_name: o.displayName };
    peer.send(
      ctx.frame(o.key, { type: "USER_HELLO", from: id, to: ctx.serverId ?? "server", payload }),
    );
    const user = new ProbeUser(ctx, peer, id, o.key);
    const reply = await peer.waitFor(
      (f) => helloVerdict(f, id) !== undefined,
      o.waitMs ?? ctx.opts.timeoutMs,
    );
    if (reply === undefined) {
      if (peer.closed) return { user, outcome: rejectedByClose(peer) };
      return { user, outcome: { kind: "silent" } };
    }
    if (helloVerdict(reply, id) === "rejected") {
      return { user, outcome: { kind: "rejected", why: describe(reply), frame: reply } };
    }
    if (o.graceMs !== undefined && o.graceMs > 0) {
      const index = peer.received.indexOf(reply) + 1;
      const late = await peer.waitFor((f) => f.type === "ERROR", o.graceMs, index);
      if (late !== undefined) {
        return {
          user,
          outcome: { kind: "rejected", why: `${reply.type}, then ${describe(late)}`, frame: late },
        };
      }
      if (peer.closed) return { user, outcome: rejectedByClose(peer, `${reply.type}, then `) };
    }
    const assigned = assignedUserId(reply);
    if (assigned !== undefined && assigned !== id && reply.type !== "USER_ADVERTISE") {
      user.id = assigned;
    }
    return { user, outcome: { kind: "accepted", reply } };
  }

  /** Sends a frame from this user, signed with its key unless `sign` is false. */
  send(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    o: { ts?: number; sign?: boolean } = {},
  ): Frame & { ts: number; from: string; to: string } {
    const frame = this.ctx.frame(o.sign === false ? null : this.key, {
      type,
      from: this.id,
      to,
      payload,
      ts: o.ts,
    });
    this.peer.send(frame);
    return frame;
  }

  /** Users the server told us about through USER_ADVERTISE and not since removed. */
  advertised(): Set<string> {
    const online = new Set<string>();
    for (const f of this.peer.received) {
      const user = advertisedUser(f);
      if (user === undefined) continue;
      if (f.type === "USER_ADVERTISE") online.add(user);
      if (f.type === "USER_REMOVE") online.delete(user);
    }
    return online;
  }

  /**
   * Asks for the online list; `undefined` when the server answers no /list request. The first
   * call finds the request form that works (LIST_REQUEST first, then the aliases of §3.11).
   */
  async list(): Promise<string[] | undefined> {
    const ctx = this.ctx;
    if (ctx.listRequest === "none") return undefined;
    const tries = ctx.listRequest === undefined ? LIST_REQUESTS : [ctx.listRequest];
    for (const [i, request] of tries.entries()) {
      const mark = this.peer.mark();
      this.send(request.type, ctx.serverId ?? "server", request.payload);
      const wait = i === 0 ? ctx.opts.timeoutMs : ctx.upTo(1000);
      const answer = await this.peer.waitFor(
        (f) => listedUsers(f) !== undefined || f.type === "ERROR",
        wait,
        mark,
      );
      const users = answer === undefined ? undefined : listedUsers(answer);
      if (users !== undefined) {
        ctx.listRequest = request;
        this.lastList = answer;
        return users;
      }
      if (!this.peer.isOpen) break;
    }
    if (ctx.listRequest === undefined) ctx.listRequest = "none";
    return undefined;
  }

  /** Whether `userId` is online as far as this user can tell; `undefined` if it cannot tell. */
  async sees(userId: string): Promise<boolean | undefined> {
    if (this.advertised().has(userId)) return true;
    const users = await this.list();
    if (users !== undefined) return users.includes(userId);
    return this.ctx.relaysAdvertises ? false : undefined;
  }

  /**
   * Waits until `userId` shows up (relayed USER_ADVERTISE, or /list polled a few times): true
   * when it did, false when it did not in `timeoutMs`, `undefined` when this user cannot tell.
   */
  async waitSees(userId: string, timeoutMs: number): Promise<boolean | undefined> {
    const deadline = Date.now() + timeoutMs;
    const poll = Math.max(250, Math.floor(timeoutMs / 6));
    for (;;) {
      if (this.advertised().has(userId)) return true;
      if (this.ctx.listRequest !== "none") {
        const users = await this.list();
        if (users?.includes(userId)) return true;
      }
      const left = deadline - Date.now();
      if (left <= 0 || !this.peer.isOpen) break;
      await this.peer.waitFor(
        (f) => f.type === "USER_ADVERTISE" && advertisedUser(f) === userId,
        Math.min(poll, left),
        this.peer.mark(),
      );
    }
    return this.ctx.listRequest !== "none" || this.ctx.relaysAdvertises ? false : undefined;
  }

  close(): void {
    this.peer.close();
  }
}

function rejectedByClose(peer: Peer, prefix = ""): HelloOutcome {
  const c = peer.closed!;
  return {
    kind: "rejected",
    why: `${prefix}connection closed (code ${c.code}${c.reason ? `, "${c.reason}"` : ""})`,
  };
}
