/**
 * The Router's vocabularies besides events: inputs (what arrived) and effects (what the shell
 * must do), and the frames the Router builds. Links validate and verify before they post an
 * input, so the Router trusts inputs.
 * @module
 */
import { sha256Hex } from "../../crypto/hash.ts";
import {
  canonicalJson,
  type ErrorCode,
  type Frame,
  type FrameOf,
  type FrameType,
  type PayloadOf,
} from "../../protocol/mod.ts";
import type { RouterEvent, UserMeta } from "../../store/events.ts";

/** A frame the server builds; its link signs it on the way out (§15 P5). */
export interface UnsignedFrame<T extends FrameType = FrameType> {
  type: T;
  from: string;
  to: string;
  ts: number;
  payload: PayloadOf<T> | Record<string, unknown>;
}

/** The first frame of a server link we accepted: who the peer says it is, with a proven key. */
export type ServerHelloFrame =
  | FrameOf<"SERVER_HELLO_LINK">
  | FrameOf<"PEER_HELLO_LINK">
  | FrameOf<"SERVER_ANNOUNCE">
  | FrameOf<"SERVER_HELLO_JOIN">;

/** What the Router is told. `raw` is the frame as received, for the journal. */
export type RouterInput =
  /** A well-formed USER_HELLO whose key imported as a valid RSA-4096 key (`pubkey` normalised). */
  | {
    type: "UserHello";
    link: string;
    frame: FrameOf<"USER_HELLO">;
    pubkey: string;
    raw: string;
    at_ms: number;
    /** For a user with a password login: the nonce it signed and its AUTH_RESPONSE (§15 P15). */
    auth?: { nonce: string; response: string };
  }
  /** A verified frame from the user that said hello on `link`. */
  | { type: "FromUser"; link: string; frame: Frame; raw: string; at_ms: number }
  /**
   * The first frame of an inbound server link, signed with `pubkey` (normalised). `fresh_id`
   * is a random UUID the Router may assign to a joiner whose id is taken.
   */
  | {
    type: "ServerHello";
    link: string;
    frame: ServerHelloFrame;
    pubkey: string;
    fresh_id: string;
    raw: string;
    at_ms: number;
  }
  /** We dialled a pinned server and sent our SERVER_HELLO_LINK on `link`. */
  | { type: "ServerDialed"; link: string; server_id: string; at_ms: number }
  /** We joined through an introducer (§3.1): it and the servers it listed. `link` stays open. */
  | {
    type: "Welcomed";
    link: string;
    introducer: PeerEntry;
    servers: PeerEntry[];
    raw: string;
    at_ms: number;
  }
  /**
   * A verified frame on a server link (signed by its `from` server, maybe relayed). `pubkey` is
   * the normalised key the frame carries (a USER_ADVERTISE's user key, a SERVER_ANNOUNCE's
   * server key), or "" when it carries none that is valid.
   */
  | { type: "FromServer"; link: string; frame: Frame; pubkey: string; raw: string; at_ms: number }
  /** A link refused a frame (parse, signature, key, scope); journaled in the Router's order. */
  | { type: "Refused"; link: string; raw: string; reason: string; at_ms: number }
  /** A link closed, for whatever reason. */
  | { type: "LinkClosed"; link: string; reason: string; at_ms: number }
  /**
   * The shell prepared a public-channel rekey (randomness and RSA happen outside `decide`):
   * the new version, each local member's wrap, and signed PUBLIC_CHANNEL_KEY_SHARE payloads.
   */
  | {
    type: "Rekeyed";
    version: number;
    wraps: { member_id: string; wrapped_key: string }[];
    shares: { members: string[]; payload: Record<string, unknown> }[];
    at_ms: number;
  };

/** The Router input of one type. */
export type Input<T extends RouterInput["type"]> = Extract<RouterInput, { type: T }>;

/**
 * A new frame of type `T` on a server link: its input, the frame, the linked server it came
 * through (`via`), and the `FrameSeen` event that records it.
 */
export interface FromServerFrame<T extends FrameType> {
  input: Input<"FromServer">;
  frame: FrameOf<T>;
  via: string;
  seen: RouterEvent;
}

/** A server as listed in a welcome or configured. */
export interface PeerEntry {
  server_id: string;
  host: string;
  port: number;
  pubkey: string;
  features?: string[];
}

/** What the Router asks its shell to do. */
export type Effect =
  /** Sign (as this server) and send. */
  | { type: "Send"; link: string; frame: UnsignedFrame }
  /** Forward a frame unchanged: its origin's `from` and `sig` stay. */
  | { type: "Relay"; link: string; text: string }
  /** Close a link with a WebSocket close code. */
  | { type: "Close"; link: string; code: number; reason: string }
  /** Open (or keep trying to open) a link to a pinned server. */
  | { type: "Dial"; server_id: string }
  /** Prepare a public-channel rekey for the local members (coalesced by the shell). */
  | { type: "Rekey" };

/** The outcome of one input. */
export interface Decision {
  events: RouterEvent[];
  effects: Effect[];
  verdict: { accepted: boolean; reason: string };
}

/** A decision that changed or sent something. */
export function accepted(events: RouterEvent[], effects: Effect[], reason = ""): Decision {
  return { events, effects, verdict: { accepted: true, reason } };
}

/** A decision that refused the input. */
export function dropped(reason: string, effects: Effect[] = []): Decision {
  return { events: [], effects, verdict: { accepted: false, reason } };
}

/** Builds an ERROR frame (§3.9). */
export function errorFrame(
  from: string,
  to: string,
  ts: number,
  code: ErrorCode,
  detail: string,
): UnsignedFrame<"ERROR"> {
  return { type: "ERROR", from, to, ts, payload: { code, detail } };
}

/** USER_ADVERTISE with the key in both `meta.pubkey` and `payload.pubkey` (§3.2.1 REC). */
export function advertiseFrame(
  { me, ts, user, pubkey, meta }: {
    me: string;
    ts: number;
    user: string;
    pubkey: string;
    meta: UserMeta;
  },
): UnsignedFrame<"USER_ADVERTISE"> {
  let known = advertises.get(meta);
  if (known?.me !== me || known.user !== user || known.pubkey !== pubkey) {
    const payload = { user_id: user, server_id: me, meta: { ...meta, pubkey }, pubkey };
    known = { me, user, pubkey, payload, frame: undefined };
    advertises.set(meta, known);
  }
  if (known.frame?.ts !== ts) {
    known.frame = { type: "USER_ADVERTISE", from: me, to: "*", ts, payload: known.payload };
  }
  return known.frame;
}

/**
 * The same advertise payload (and, for the same `ts`, the same frame) object for the same user
 * record: a user's `meta` object is replaced, never changed, when it changes. Every hello
 * re-sends every user's advertise, and the signer seals a frame object once and finds a known
 * payload object's signature without serialising it again (`frame_signer.ts`). A cache of a
 * pure function: `decide` stays deterministic.
 */
const advertises = new WeakMap<UserMeta, {
  me: string;
  user: string;
  pubkey: string;
  payload: UnsignedFrame<"USER_ADVERTISE">["payload"];
  frame: UnsignedFrame<"USER_ADVERTISE"> | undefined;
}>();

/** USER_REMOVE for a user of this server (§3.2.2). */
export function removeFrame(me: string, ts: number, user: string): UnsignedFrame<"USER_REMOVE"> {
  return { type: "USER_REMOVE", from: me, to: "*", ts, payload: { user_id: user, server_id: me } };
}

/** Seen ids by frame object: a delivery's is needed for its check and again for its ACK. */
const seenKeys = new WeakMap<Frame, string>();

/** The seen id of a frame: (ts, from, to, sha256(canonical payload)) (§15 P13). */
export function seenKey(frame: Frame): string {
  let key = seenKeys.get(frame);
  if (key === undefined) {
    key = `${frame.ts}|${frame.from}|${frame.to}|${payloadDigest(frame.payload).hex}`;
    seenKeys.set(frame, key);
  }
  return key;
}

/** A payload's canonical text (§5.1, the ASCII form) and the SHA-256 hex of it. */
export interface PayloadDigest {
  text: string;
  hex: string;
}

const digests = new WeakMap<object, PayloadDigest>();

/**
 * {@linkcode PayloadDigest} of a payload object, made once: a received delivery needs the same
 * text and hash for its signature check (and its cache), its seen id and its ACK. Safe because
 * payloads are never changed once parsed or built (an ACK batch, which grows, is never hashed).
 */
export function payloadDigest(payload: object): PayloadDigest {
  let digest = digests.get(payload);
  if (digest === undefined) {
    const text = canonicalJson(payload);
    digest = { text, hex: sha256Hex(new TextEncoder().encode(text)) };
    digests.set(payload, digest);
  }
  return digest;
}
