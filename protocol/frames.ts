/**
 * Every SOCP v1.3 frame type (SOCP-1.3.md §3) as a zod schema and a TypeScript type. Payload
 * objects are "loose": unknown keys are kept, because gossip and deliveries are forwarded
 * unchanged and the transport signature covers the whole payload.
 * @module
 */
import { z } from "zod";
import { isB64 } from "./base64url.ts";
import {
  ACK_REFS_MAX,
  B64_LENGTH_MAX,
  DISPLAY_NAME_LENGTH_MAX,
  ERROR_DETAIL_LENGTH_MAX,
  GOSSIP_DIGEST_BUCKETS,
  ID_LENGTH_MAX,
} from "./limits.ts";

const id = z.string().min(1).max(ID_LENGTH_MAX);
const b64 = z.string().min(1).max(B64_LENGTH_MAX).refine(isB64, "must be base64url");
/** A public key in any tolerated form; its content is checked by the crypto layer (BAD_KEY). */
const key = z.string().min(1).max(B64_LENGTH_MAX);
const int = z.int().min(0);
const hex = z.string().min(1).max(1024).regex(/^[0-9a-f]+$/, "must be lower-case hex");
const meta = z.looseObject({
  display_name: z.string().max(DISPLAY_NAME_LENGTH_MAX).optional(),
});
const serverAddress = z.looseObject({
  host: z.string().min(1).max(255),
  port: z.int().min(1).max(65535),
  pubkey: key,
});
const serverEntry = z.looseObject({
  server_id: id.optional(),
  user_id: id.optional(),
  host: z.string().min(1).max(255),
  port: z.int().min(1).max(65535),
  pubkey: key,
});
const listEntry = z.union([id, z.looseObject({ user_id: id })]);
const listResponse = z.looseObject({ users: z.array(listEntry).max(100_000) });
/** Per bucket: how many entries, and a hash of them (see actors/router/router_gossip.ts). */
const digestBuckets = z.array(
  z.tuple([int, z.string().max(64).regex(/^[0-9a-f]*$/, "must be lower-case hex")]),
).length(GOSSIP_DIGEST_BUCKETS);
const bucketIndexes = z.array(z.int().min(0).max(GOSSIP_DIGEST_BUCKETS - 1)).max(
  GOSSIP_DIGEST_BUCKETS,
);

/** Payload schema of every frame type we understand. */
export const PAYLOADS = {
  // Server <-> server (§3.1-3.4).
  SERVER_HELLO_JOIN: serverAddress,
  // Some introducers answer `{host, port, pubkey, role}` without an assigned id: the joiner keeps
  // its own (DECISIONS.md, dialects).
  SERVER_WELCOME: z.looseObject({
    assigned_id: id.optional(),
    servers: z.array(serverEntry).max(1000).optional(),
    clients: z.array(serverEntry).max(1000).optional(),
  }),
  SERVER_HELLO_LINK: serverAddress,
  // The v1.1 name of SERVER_HELLO_LINK (§10), still sent by some servers.
  PEER_HELLO_LINK: serverAddress,
  SERVER_ANNOUNCE: serverAddress,
  USER_ADVERTISE: z.looseObject({
    user_id: id,
    server_id: id,
    meta: meta.optional(),
    pubkey: key.optional(),
  }),
  USER_REMOVE: z.looseObject({ user_id: id, server_id: id }),
  SERVER_DELIVER: z.looseObject({
    user_id: id,
    sender: id.optional(),
    inner_type: z.string().max(64).optional(),
    ciphertext: b64.optional(),
    sender_pub: key.optional(),
    content_sig: b64.optional(),
  }),
  HEARTBEAT: z.looseObject({}),
  // Heal re-sync between servers announcing gossip_direct (our extension, ROUTING.md).
  GOSSIP_DIGEST: z.looseObject({ users: digestBuckets, members: digestBuckets }),
  GOSSIP_REQUEST: z.looseObject({ users: bucketIndexes, members: bucketIndexes }),
  // User <-> server (§3.5-3.6).
  USER_HELLO: z.looseObject({
    client: z.string().max(64).optional(),
    pubkey: key,
    enc_pubkey: key.optional(),
    meta: meta.optional(),
    display_name: z.string().max(DISPLAY_NAME_LENGTH_MAX).optional(),
  }),
  MSG_DIRECT: z.looseObject({ ciphertext: b64, sender_pub: key, content_sig: b64 }),
  USER_DELIVER: z.looseObject({ ciphertext: b64, sender: id, sender_pub: key, content_sig: b64 }),
  // Public channel (§3.7).
  PUBLIC_CHANNEL_ADD: z.looseObject({ add: z.array(id).max(1000), if_version: int }),
  PUBLIC_CHANNEL_UPDATED: z.looseObject({
    version: int,
    wraps: z.array(z.looseObject({ member_id: id, wrapped_key: b64 })).max(10_000),
  }),
  PUBLIC_CHANNEL_KEY_SHARE: z.looseObject({
    shares: z.array(z.looseObject({ member: id, wrapped_public_channel_key: b64 })).max(10_000),
    creator_pub: key,
    content_sig: b64,
  }),
  MSG_PUBLIC_CHANNEL: z.looseObject({
    ciphertext: b64,
    sender_pub: key.optional(),
    content_sig: b64.optional(),
  }),
  // Files (§3.8).
  FILE_START: z.looseObject({
    file_id: id,
    name: z.string().min(1).max(255),
    size: int,
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits"),
    mode: z.string().max(16),
  }),
  FILE_CHUNK: z.looseObject({ file_id: id, index: int, ciphertext: b64 }),
  FILE_END: z.looseObject({ file_id: id }),
  // Control (§3.9-3.11).
  ACK: z.looseObject({
    msg_ref: z.string().max(ID_LENGTH_MAX),
    // Our extension (ack_batches): the deliveries one ACK acknowledges.
    msg_refs: z.array(z.string().max(ID_LENGTH_MAX)).max(ACK_REFS_MAX).optional(),
  }),
  ERROR: z.looseObject({
    code: z.string().max(64),
    detail: z.string().max(ERROR_DETAIL_LENGTH_MAX * 4).optional(),
  }),
  CTRL_CLOSE: z.looseObject({}),
  LIST_REQUEST: z.looseObject({}),
  LIST_RESPONSE: listResponse,
  // The other /list dialects of §3.11: requests, and the answers each expects.
  USER_LIST_REQ: z.looseObject({}),
  USER_LIST: listResponse,
  LIST_REQ: z.looseObject({}),
  LIST_RES: listResponse,
  CTRL_LIST: z.looseObject({}),
  CTRL_LIST_RESP: listResponse,
  LIST: z.looseObject({}),
  CLIENT_CMD: z.looseObject({ cmd: z.string().max(64) }),
  CLIENT_COMMAND: z.looseObject({
    cmd: z.string().max(64).optional(),
    command: z.string().max(64).optional(),
  }),
  // Directory (spec §13, our extension): a user's key, vouched for by the server's signature.
  PUBKEY_REQUEST: z.looseObject({ user_id: id }),
  PUBKEY_RESPONSE: z.looseObject({ user_id: id, pubkey: key, server_id: id }),
  // The same look-up under its v1.1 master-database names (§10), still sent by some clients.
  USER_DB_GET: z.looseObject({ user_id: id }),
  USER_DB_USER: z.looseObject({ user_id: id, pubkey: key }),
  // Password login (spec §13 recommended model, our extension; SRP-6a, the password never
  // leaves the client). Only our own clients send these.
  LOGIN_REGISTER: z.looseObject({
    privkey_store: z.string().min(1).max(B64_LENGTH_MAX * 2),
    pake_password: z.string().min(1).max(4096),
  }),
  LOGIN_START: z.looseObject({ user_id: id, A: hex }),
  LOGIN_CHALLENGE: z.looseObject({ user_id: id, srp_salt: hex, B: hex, kdf: z.looseObject({}) }),
  LOGIN_PROOF: z.looseObject({ user_id: id, M1: hex }),
  LOGIN_OK: z.looseObject({ user_id: id, M2: hex, privkey_store: z.string() }),
  // Delivery receipts (reliable delivery, our extension; only to clients that announced them).
  MSG_RECEIPT: z.looseObject({ msg_ref: z.string().max(1024), status: z.string().max(32) }),
  // Proof of key possession on hello for users with a password login (§15 P15).
  // A server dialect challenges with `{challenge}` instead (protocol/auth_challenge.ts).
  AUTH_CHALLENGE: z.looseObject({ nonce: id.optional(), challenge: b64.optional() }).refine(
    (p) => p.nonce !== undefined || p.challenge !== undefined,
    "needs nonce or challenge",
  ),
  AUTH_RESPONSE: z.looseObject({ nonce: id, signature: b64 }),
} as const;

/** A frame type we understand. */
export type FrameType = keyof typeof PAYLOADS;

/** The payload of frame type `T`. */
export type PayloadOf<T extends FrameType> = z.infer<(typeof PAYLOADS)[T]>;

/** A parsed, well-formed frame of type `T` (§1). `sig` is "" when the sender sent none. */
export interface FrameOf<T extends FrameType> {
  type: T;
  from: string;
  to: string;
  ts: number;
  payload: PayloadOf<T>;
  sig: string;
}

/** Any well-formed frame. */
export type Frame = { [T in FrameType]: FrameOf<T> }[FrameType];

/** True when `type` is one we understand. */
export function isFrameType(type: string): type is FrameType {
  return Object.hasOwn(PAYLOADS, type);
}

/** The six standard error codes (§3.9); we never send others (§15 P14). */
export type ErrorCode =
  | "USER_NOT_FOUND"
  | "INVALID_SIG"
  | "BAD_KEY"
  | "TIMEOUT"
  | "UNKNOWN_TYPE"
  | "NAME_IN_USE";

/** The envelope schema (§1). `ts` is a number: integer ms is required of us, not of peers. */
export const ENVELOPE = z.object({
  type: z.string().min(1).max(64),
  from: id,
  to: id,
  ts: z.number().min(0).max(1e16),
  payload: z.record(z.string(), z.unknown()),
  sig: z.string().max(B64_LENGTH_MAX).optional(),
});
