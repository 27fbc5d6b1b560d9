/**
 * Gossip scope and heal re-sync between servers that announce `gossip_direct` (ROUTING.md
 * "Gossip with gossip_direct"). Pure, like the rest of `decide`.
 *
 * - **Relays.** A server that announces the flag sends its own gossip to every server it is
 *   linked to. A server that announces it keeps another server's presence only as that server
 *   says it on their own link (relayed copies are ignored while linked), and re-syncs it by
 *   digest when the link comes back. So a relay from a flagged origin to a flagged server is
 *   never needed: it is skipped. Every other pair keeps the spec's forwarding (§6).
 * - **Heal.** On a new link to a flagged peer, instead of re-sending every local user's
 *   advertise, a flagged server sends GOSSIP_DIGEST: per bucket of its users (and of the public
 *   channel's members), a count and a hash. The peer compares with what it kept of that server
 *   from before the link went down (`dormant_claims`) and with its own members, restores the
 *   buckets that match, and asks (GOSSIP_REQUEST) for the buckets that differ, which are then
 *   re-sent, and only those.
 * @module
 */
import { sha256Hex } from "../../crypto/hash.ts";
import { canonicalJson, type FrameType } from "../../protocol/mod.ts";
import { GOSSIP_DIGEST_BUCKETS, GOSSIP_MEMBERS_PER_FRAME } from "../../protocol/limits.ts";
import type { RouterEvent, UserMeta } from "../../store/events.ts";
import type { RouterConfig } from "./router_config.ts";
import {
  accepted,
  advertiseFrame,
  type Decision,
  dropped,
  type Effect,
  type FromServerFrame,
  type Input,
  type UnsignedFrame,
} from "./router_messages.ts";
import type { RouterState } from "./router_state.ts";
import { has, OUR_SERVER_FEATURES } from "./router_delivery.ts";
import { FEATURE_GOSSIP_DIRECT } from "../../protocol/features.ts";

/** Gossip a flagged pair never relays: each server hears it from its origin. */
const DIRECT_TYPES: ReadonlySet<FrameType> = new Set([
  "USER_ADVERTISE",
  "USER_REMOVE",
  "PUBLIC_CHANNEL_ADD",
  "PUBLIC_CHANNEL_UPDATED",
  "PUBLIC_CHANNEL_KEY_SHARE",
]);

/** The features this server announces. */
export function ourFeatures(config: RouterConfig): readonly string[] {
  return config.features ?? OUR_SERVER_FEATURES;
}

/** True when we and `server` (as it announced itself) both announce gossip_direct. */
export function direct(
  state: RouterState,
  config: RouterConfig,
  server: string,
  announced?: readonly string[],
): boolean {
  if (!ourFeatures(config).includes(FEATURE_GOSSIP_DIRECT)) return false;
  return announced !== undefined
    ? announced.includes(FEATURE_GOSSIP_DIRECT)
    : has(state.delivery, server, FEATURE_GOSSIP_DIRECT);
}

/**
 * Forwards a gossiped frame unchanged to every linked server but its origin and the sender;
 * between flagged servers, presence and public-channel frames of a flagged origin never, and
 * its SERVER_ANNOUNCE only when it told us something new (`news`): a flagged server announces
 * itself on every link it makes, so an announce we already knew was relayed when we learned it.
 */
export function gossip(
  state: RouterState,
  config: RouterConfig,
  { input, via, news = false }: { input: Input<"FromServer">; via: string; news?: boolean },
): Effect[] {
  const { frame } = input;
  const skipFlagged = (DIRECT_TYPES.has(frame.type) ||
    (frame.type === "SERVER_ANNOUNCE" && !news)) && direct(state, config, frame.from);
  const effects: Effect[] = [];
  for (const [server, { link }] of state.servers) {
    if (server === via || server === frame.from) continue;
    if (skipFlagged && has(state.delivery, server, FEATURE_GOSSIP_DIRECT)) continue;
    effects.push({ type: "Relay", link, text: input.raw });
  }
  return effects;
}

/** A server and the link it is on, as of `at_ms`; `announced`: the features its hello named. */
export interface LinkedServer {
  server: string;
  link: string;
  at_ms: number;
  announced?: readonly string[] | undefined;
}

/** What makes a newly linked peer current: a digest to a flagged peer, else our users. */
export function greet(
  state: RouterState,
  config: RouterConfig,
  { server, link, at_ms, announced }: LinkedServer,
): Effect[] {
  if (direct(state, config, server, announced)) {
    return [{ type: "Send", link, frame: digestFrame(state, at_ms) }];
  }
  return [...state.local_users.keys()].map((user) => ({
    type: "Send" as const,
    link,
    frame: ourAdvertise(state, user, at_ms),
  }));
}

function ourAdvertise(state: RouterState, user: string, at_ms: number) {
  const record = state.users.get(user)!;
  return advertiseFrame({
    me: state.server_id,
    ts: at_ms,
    user,
    pubkey: record.pubkey,
    meta: record.meta,
  });
}

/** The bucket of an id: FNV-1a, so both ends agree without hashing twice. */
export function bucketOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % GOSSIP_DIGEST_BUCKETS;
}

/** One user as a digest sees it: what an advertise of it says (its meta without the key). */
function userEntry(user: string, pubkey: string, meta: UserMeta): string {
  const rest = { ...meta } as Record<string, unknown>;
  delete rest.pubkey;
  return `${user}\n${pubkey}\n${canonicalJson(rest)}`;
}

/** Count and hash per bucket of `entries` (id, text). */
function buckets(entries: Iterable<[string, string]>): [number, string][] {
  const texts: string[][] = Array.from({ length: GOSSIP_DIGEST_BUCKETS }, () => []);
  for (const [id, text] of entries) texts[bucketOf(id)]!.push(text);
  return texts.map((list) => [
    list.length,
    list.length === 0
      ? ""
      : sha256Hex(new TextEncoder().encode(list.sort().join("\n"))).slice(0, 32),
  ]);
}

function* localEntries(state: RouterState): Iterable<[string, string]> {
  for (const user of state.local_users.keys()) {
    const record = state.users.get(user)!;
    yield [user, userEntry(user, record.pubkey, record.meta)];
  }
}

function* memberEntries(state: RouterState): Iterable<[string, string]> {
  for (const member of state.public_channel.members) yield [member, member];
}

/** Our GOSSIP_DIGEST: our users and the public channel's members, by bucket. */
export function digestFrame(state: RouterState, at_ms: number): UnsignedFrame<"GOSSIP_DIGEST"> {
  return {
    type: "GOSSIP_DIGEST",
    from: state.server_id,
    to: "*",
    ts: at_ms,
    payload: { users: buckets(localEntries(state)), members: buckets(memberEntries(state)) },
  };
}

function differing(ours: [number, string][], theirs: [number, string][]): number[] {
  const out: number[] = [];
  theirs.forEach(([count, hash], i) => {
    const [n, h] = ours[i]!;
    if (count !== n || hash !== h) out.push(i);
  });
  return out;
}

/**
 * A peer's digest on its own link: restore what we kept of it in the buckets that match, ask
 * for the buckets that differ, and drop the rest of what we kept.
 */
export function onDigest(
  state: RouterState,
  m: FromServerFrame<"GOSSIP_DIGEST">,
): Decision {
  const { input, frame, via, seen } = m;
  const peer = frame.from;
  if (via !== peer) {
    return dropped(`GOSSIP_DIGEST of ${peer} relayed by ${via}: digests are direct`);
  }
  const kept = state.dormant_claims.get(peer) ?? new Map();
  const theirs = frame.payload.users as [number, string][];
  const keptBuckets = buckets(
    [...kept].map(([user, r]) => [user, userEntry(user, r.pubkey, r.meta)] as [string, string]),
  );
  // A bucket that differs is neither restored nor trusted: asked for, unless it is now empty.
  const stale = new Set(differing(keptBuckets, theirs));
  const users = [...stale].filter((i) => theirs[i]![0] > 0);
  const events: RouterEvent[] = [seen];
  const effects: Effect[] = [];
  for (const [user, record] of kept) {
    if (stale.has(bucketOf(user))) continue;
    events.push({
      type: "UserLocated",
      user_id: user,
      server_id: peer,
      pubkey: record.pubkey,
      meta: record.meta,
      advertise: record.advertise ?? "",
      at_ms: input.at_ms,
    });
    if (!state.local_users.has(user) && record.advertise !== undefined) {
      for (const link of state.local_users.values()) {
        effects.push({ type: "Relay", link, text: record.advertise });
      }
    }
  }
  if (kept.size > 0) {
    events.push({ type: "DormantClaimsDropped", server_id: peer, at_ms: input.at_ms });
  }
  const members = differing(
    buckets(memberEntries(state)),
    frame.payload.members as [number, string][],
  ).filter((i) => frame.payload.members[i]![0] > 0);
  if (users.length > 0 || members.length > 0) {
    effects.push({
      type: "Send",
      link: input.link,
      frame: {
        type: "GOSSIP_REQUEST",
        from: state.server_id,
        to: peer,
        ts: input.at_ms,
        payload: { users, members },
      },
    });
  }
  return accepted(
    events,
    effects,
    `digest of ${peer}: ${kept.size} kept claim(s), ${users.length} user and ${members.length} member bucket(s) asked for`,
  );
}

/** A peer asks for buckets of our users and members: re-send those, and only those. */
export function onRequest(
  state: RouterState,
  m: FromServerFrame<"GOSSIP_REQUEST">,
): Decision {
  const { input, frame, via, seen } = m;
  if (via !== frame.from) return dropped(`GOSSIP_REQUEST of ${frame.from} relayed by ${via}`);
  const { link, at_ms } = input;
  const users = new Set(frame.payload.users);
  const effects: Effect[] = [];
  for (const user of state.local_users.keys()) {
    if (users.has(bucketOf(user))) {
      effects.push({ type: "Send", link, frame: ourAdvertise(state, user, at_ms) });
    }
  }
  const members = new Set(frame.payload.members);
  const add = [...state.public_channel.members].filter((m) => members.has(bucketOf(m)));
  for (let i = 0; i < add.length; i += GOSSIP_MEMBERS_PER_FRAME) {
    effects.push({
      type: "Send",
      link,
      frame: {
        type: "PUBLIC_CHANNEL_ADD",
        from: state.server_id,
        to: "*",
        ts: at_ms,
        payload: {
          add: add.slice(i, i + GOSSIP_MEMBERS_PER_FRAME),
          if_version: state.public_channel.version,
        },
      },
    });
  }
  return accepted([seen], effects, `${effects.length} frame(s) re-sent to ${frame.from}`);
}
