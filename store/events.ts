/**
 * The Router's events: facts in the past tense, appended to the event log and folded on
 * restart. Everything nondeterministic that a decision used (time, ids) is inside the event,
 * so folding never reads a clock or a socket.
 * @module
 */

/**
 * The shape of the events written now, stored with each row. Every stored row is version 1 so
 * far; a change of shape bumps it, and the fold must then read the older rows too.
 */
export const EVENT_VERSION = 1;

/** Public metadata of a user (§6.2 `meta`). Routing and crypto never depend on it. */
export type UserMeta = { display_name?: string } & Record<string, unknown>;

/** Every state change of the server. */
export type RouterEvent =
  /** The process started; links from before are gone, so local presence is cleared. */
  | { type: "ServerStarted"; server_id: string; server_pub: string; at_ms: number; build: string }
  /** A user id was bound to its key on first `USER_HELLO` (§15 P15). */
  | { type: "UserRegistered"; user_id: string; pubkey: string; meta: UserMeta; at_ms: number }
  /**
   * A user registered a password login (spec §13): the private key encrypted under a key derived
   * from the password (`privkey_store`) and an SRP verifier (`pake_password`). Neither reveals
   * the password or the key.
   */
  | {
    type: "UserLoginRegistered";
    user_id: string;
    privkey_store: string;
    pake_password: string;
    at_ms: number;
  }
  /** A user attached to this server over a link. */
  | {
    type: "UserArrived";
    user_id: string;
    link: string;
    meta: UserMeta;
    at_ms: number;
    features?: string[];
  }
  /** A local user's link closed. */
  | { type: "UserLeft"; user_id: string; at_ms: number; reason: string }
  /** A server's key and address were pinned (bootstrap, welcome, announce, link or join). */
  | {
    type: "ServerPinned";
    server_id: string;
    pubkey: string;
    host: string;
    port: number;
    at_ms: number;
    /** What the server announced it supports (ours: delivery ACKs). */
    features?: string[];
  }
  /**
   * A joiner asked for an id that is not a UUID v4 and was assigned `server_id` instead; it may
   * keep naming itself `alias`, which stands for `server_id` and so for its one pinned key.
   */
  | { type: "ServerAliased"; alias: string; server_id: string; at_ms: number }
  /** A server link was established; `outbound` when we dialled it. */
  | {
    type: "ServerLinked";
    server_id: string;
    link: string;
    outbound: boolean;
    at_ms: number;
    features?: string[];
  }
  /** A server link closed (or was replaced by a better one). */
  | { type: "ServerUnlinked"; server_id: string; link: string; at_ms: number; reason: string }
  /** A remote server advertised a user it hosts (§3.2.1). */
  | {
    type: "UserLocated";
    user_id: string;
    server_id: string;
    pubkey: string;
    meta: UserMeta;
    advertise: string;
    at_ms: number;
  }
  /**
   * A remote user is gone: removed by its server, or its server's link died. `dormant`: the
   * claim is kept aside, to be checked against that server's digest when its link comes back.
   */
  | {
    type: "UserUnlocated";
    user_id: string;
    server_id: string;
    at_ms: number;
    dormant?: boolean;
  }
  /** A server's digest was handled: its dormant claims are restored or gone. */
  | { type: "DormantClaimsDropped"; server_id: string; at_ms: number }
  /** Users joined the public channel (never removed, §6.3). */
  | { type: "PublicChannelJoined"; members: string[]; at_ms: number }
  /**
   * The public channel moved to `version`: per member, the new random 256-bit key wrapped with
   * RSA-OAEP for that member (§3.7.2). The clear key is never stored.
   */
  | {
    type: "PublicChannelRekeyed";
    version: number;
    wraps: { member_id: string; wrapped_key: string }[];
    at_ms: number;
  }
  /** A message was queued for an offline user or an unreachable (or acknowledging) server. */
  | {
    type: "MessageQueued";
    queue: "user" | "server";
    owner: string;
    item: QueuedDelivery;
    at_ms: number;
  }
  /** Queued messages left: sent (to a peer that does not acknowledge), acknowledged, or expired. */
  | {
    type: "MessageDequeued";
    queue: "user" | "server";
    owner: string;
    ids: number[];
    reason: "sent" | "acknowledged" | "expired";
    at_ms: number;
  }
  /** A server-link frame was accepted; its seen id suppresses replays and loops (§15 P13). */
  | { type: "FrameSeen"; key: string; ts: number; at_ms: number };

/**
 * A message waiting in a queue: the frame to send (signed when it leaves) or to relay unchanged,
 * and the reference that acknowledges it (a message ref for users, a seen id for servers).
 */
export interface QueuedDelivery {
  ref: string;
  /** The sender's user id, told when the message is delivered or expires. */
  sender: string;
  bytes: number;
  send?: { type: string; from: string; to: string; ts: number; payload: Record<string, unknown> };
  relay?: string;
}

/** An event as stored: with its position in the log. */
export type StoredEvent = RouterEvent & { seq: number };
