/**
 * One run's connections to the target and what was learned about it on the way: its id and
 * key, how it answers hellos and /list, whether it relays advertises. Probe users and the probe's
 * server link are built on it; the checks see it through {@linkcode ProbeContext}.
 * @module
 */
import type { PublicKey, RsaBackend } from "../crypto/types.ts";
import { type ProbeKeys, type SigningKey, signPayloadWith } from "./keys.ts";
import { type Frame, Peer } from "./peer.ts";
import { obj, serverIdOf, serverPubOf, str } from "./tolerant.ts";

/** Options of one run. */
export interface ProbeOptions {
  /** ws:// or wss:// address of the target. */
  url: string;
  /** Longest wait of any single step, in milliseconds. */
  timeoutMs: number;
  /** The target's public key, if known in advance (any tolerated encoding). */
  serverPub?: string;
  /** The target's server id, if known in advance. */
  serverId?: string;
  /** PSS salt length of every signature the probe makes: 32 (default) or 478 (§15 P2). */
  saltLength: number;
  /** Progress lines (stderr). */
  say: (line: string) => void;
}

/** The target as one run sees it. */
export class ProbeSession {
  /** Every connection opened, in order. */
  readonly peers: Peer[] = [];
  serverId?: string;
  serverKey?: PublicKey;
  /** Where the server key came from ("--server-pubkey", "ACK server_pub", ...). */
  serverKeySource?: string;
  /** Disagreements between the key given and the keys the server announced. */
  readonly serverKeyConflicts: string[] = [];
  /** Whether good USER_HELLOs got a reply; without one, hellos are judged by presence. */
  helloReplies = true;
  /** The /list request that works, "none" when none does, undefined before the first try. */
  listRequest?: { type: string; payload: Record<string, unknown> } | "none";
  /** True once user A saw a USER_ADVERTISE relayed by the server. */
  relaysAdvertises = false;

  constructor(
    readonly opts: ProbeOptions,
    readonly backend: RsaBackend,
    readonly keys: ProbeKeys,
  ) {
    if (opts.serverId !== undefined) this.serverId = opts.serverId;
  }

  /** Imports `--server-pubkey`; returns the refusal reason when it is not an acceptable key. */
  async pinGivenServerKey(): Promise<string | undefined> {
    if (this.opts.serverPub === undefined) return undefined;
    const imported = await this.backend.importPublic(this.opts.serverPub);
    if (!imported.ok) return imported.reason;
    this.serverKey = imported.key;
    this.serverKeySource = "--server-pubkey";
    return undefined;
  }

  /** Opens and remembers a connection to the target. */
  async open(label: string): Promise<Peer> {
    const peer = await Peer.open(this.opts.url, this.opts.timeoutMs, label);
    this.peers.push(peer);
    return peer;
  }

  /** An envelope (§1) signed by `key`, or with `"sig": ""` when `key` is null; `ts` defaults to now. */
  frame(
    key: SigningKey | null,
    f: { type: string; from: string; to: string; payload: Record<string, unknown>; ts?: number },
  ): Frame & { ts: number; from: string; to: string } {
    const sig = key === null ? "" : signPayloadWith(key, f.payload, this.opts.saltLength);
    return {
      type: f.type,
      from: f.from,
      to: f.to,
      ts: f.ts ?? Date.now(),
      payload: f.payload,
      sig,
    };
  }

  /**
   * Learns the server's id and key from a hello reply (ACK server_id / server_pub, §15 P7). A key
   * equal to the user's own (`ownSpki`, an echo of the hello) is not the server's.
   */
  async learnFromReply(reply: Frame, source: string, ownSpki: string): Promise<void> {
    this.serverId ??= serverIdOf(reply);
    const text = serverPubOf(reply);
    if (text !== undefined) await this.#learnKey(text, `${source} ${reply.type}`, ownSpki);
  }

  /** Learns the server's id and key from a SERVER_WELCOME (its own entry, if listed). */
  async learnFromWelcome(welcome: Frame): Promise<void> {
    const from = str(welcome.from);
    this.serverId ??= from;
    for (const key of ["servers", "clients"]) {
      const rows = welcome.payload[key];
      if (!Array.isArray(rows)) continue;
      for (const row of rows.map(obj)) {
        const id = str(row?.server_id) ?? str(row?.user_id);
        const pub = str(row?.pubkey);
        if (id !== undefined && id === from && pub !== undefined) {
          await this.#learnKey(pub, "SERVER_WELCOME entry");
        }
      }
    }
  }

  /** The step timeout, or `ms` if shorter. */
  upTo(ms: number): number {
    return Math.min(this.opts.timeoutMs, ms);
  }

  /** Closes every connection (CTRL_CLOSE, then code 1000) and waits a moment for the closes. */
  async close(): Promise<void> {
    for (const peer of this.peers) peer.close();
    await Promise.all(this.peers.map((p) => p.waitClosed(1500)));
  }

  async #learnKey(text: string, source: string, notSpki?: string): Promise<void> {
    const imported = await this.backend.importPublic(text);
    if (imported.ok && imported.key.spki === notSpki) return;
    if (!imported.ok) {
      this.serverKeyConflicts.push(`${source} carries an unusable key: ${imported.reason}`);
      return;
    }
    if (this.serverKey === undefined) {
      this.serverKey = imported.key;
      this.serverKeySource = source;
    } else if (this.serverKey.spki !== imported.key.spki) {
      this.serverKeyConflicts.push(`${source} differs from the key of ${this.serverKeySource}`);
    }
  }
}
