/**
 * The probe as a peer server (§3.1): it joins with SERVER_HELLO_JOIN signed by its own RSA-4096
 * key, expecting a SERVER_WELCOME, then announces itself; a target that does not welcome it is
 * tried once more with SERVER_HELLO_LINK (§3.1.3, §15 P10) on a fresh connection. The probe
 * does not listen anywhere, so the address it gives is a placeholder.
 * @module
 */
import type { ProbeSession } from "./session.ts";
import type { SigningKey } from "./keys.ts";
import type { Frame, Peer } from "./peer.ts";
import { describe, str } from "./tolerant.ts";

/** The address the probe claims in its hellos (nothing listens there). */
const PLACEHOLDER = { host: "127.0.0.1", port: 1 };

/** A server link the target accepted. */
export class ProbeLink {
  private constructor(
    private readonly ctx: ProbeSession,
    readonly peer: Peer,
    /** Our server id (the `assigned_id` of the welcome, when there was one). */
    readonly id: string,
    /** How we got in: "SERVER_HELLO_JOIN" or "SERVER_HELLO_LINK". */
    readonly via: string,
  ) {}

  /** Joins (or links to) the target; `reason` says how, or why it failed. */
  static async establish(ctx: ProbeSession): Promise<{ link?: ProbeLink; reason: string }> {
    const key = ctx.keys.server;
    const hello = { ...PLACEHOLDER, pubkey: key.spki };
    const requested = crypto.randomUUID();
    let joinWhy: string;
    try {
      const peer = await ctx.open("server link (join)");
      peer.send(
        ctx.frame(key, {
          type: "SERVER_HELLO_JOIN",
          from: requested,
          to: hostPort(ctx.opts.url),
          payload: hello,
        }),
      );
      const answer = await peer.waitFor(
        (f) => f.type === "SERVER_WELCOME" || f.type === "ERROR",
        ctx.opts.timeoutMs,
      );
      if (answer?.type === "SERVER_WELCOME") {
        await ctx.learnFromWelcome(answer);
        const id = str(answer.payload.assigned_id) ?? requested;
        const link = new ProbeLink(ctx, peer, id, "SERVER_HELLO_JOIN");
        link.send("SERVER_ANNOUNCE", "*", hello);
        const renamed = id === requested ? "" : ` (assigned id ${id})`;
        return { link, reason: `joined with SERVER_HELLO_JOIN, got SERVER_WELCOME${renamed}` };
      }
      joinWhy = whyNot(peer, answer, "SERVER_WELCOME", ctx.opts.timeoutMs);
      peer.close();
    } catch (e) {
      return { reason: (e as Error).message };
    }
    try {
      const peer = await ctx.open("server link (link)");
      const to = ctx.serverId ?? hostPort(ctx.opts.url);
      peer.send(ctx.frame(key, { type: "SERVER_HELLO_LINK", from: requested, to, payload: hello }));
      const quiet = ctx.upTo(1500);
      const answer = await peer.waitFor((f) => f.type === "ERROR", quiet);
      if (answer !== undefined || peer.closed) {
        const linkWhy = whyNot(peer, answer, "", quiet);
        return {
          reason: `SERVER_HELLO_JOIN: ${joinWhy}; SERVER_HELLO_LINK: ${linkWhy} ` +
            "(the server may accept only pinned servers)",
        };
      }
      return {
        link: new ProbeLink(ctx, peer, requested, "SERVER_HELLO_LINK"),
        reason: `SERVER_HELLO_JOIN: ${joinWhy}; SERVER_HELLO_LINK kept open`,
      };
    } catch (e) {
      return { reason: `SERVER_HELLO_JOIN: ${joinWhy}; ${(e as Error).message}` };
    }
  }

  /** Sends a frame from our server id, signed by `signer` (default our server key; null: none). */
  send(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    o: { signer?: SigningKey | null; ts?: number } = {},
  ): Frame {
    const signer = o.signer === undefined ? this.ctx.keys.server : o.signer;
    const frame = this.ctx.frame(signer, { type, from: this.id, to, payload, ts: o.ts });
    this.peer.send(frame);
    return frame;
  }

  /** The target's id for `to` fields (its `host:port` when we never learned it). */
  get target(): string {
    return this.ctx.serverId ?? hostPort(this.ctx.opts.url);
  }
}

/** `host:port` of a ws:// or wss:// URL, as SERVER_HELLO_JOIN.to wants it (§1). */
export function hostPort(url: string): string {
  const u = new URL(url);
  const port = u.port !== "" ? u.port : u.protocol === "wss:" ? "443" : "80";
  return `${u.hostname}:${port}`;
}

function whyNot(peer: Peer, answer: Frame | undefined, wanted: string, waitedMs: number): string {
  if (answer !== undefined) return `answered ${describe(answer)}`;
  if (peer.closed) return `connection closed (code ${peer.closed.code})`;
  return `no ${wanted || "answer"} within ${waitedMs} ms`;
}
