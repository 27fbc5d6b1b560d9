/**
 * Independent SOCP v1.3 reference client (test-only).
 *
 * Written from /work/shared/spec/SOCP-1.3.md ONLY: it imports nothing from the server's own
 * modules (protocol/, crypto/, store/, actors/, client/, lib/), so tests that drive the server
 * with it prove wire interoperability rather than agreement with itself.
 *
 * It deliberately behaves like a typical *Python* peer and exercises the tolerated variants of
 * spec §5 / §15 ("we accept" column) instead of the forms our own server sends:
 *
 *  - crypto stack: `node:crypto` (OpenSSL-style sign/verify, publicEncrypt/privateDecrypt), not
 *    WebCrypto;
 *  - transport `sig`: RSASSA-PSS-SHA256 over Python's
 *    `json.dumps(payload, sort_keys=True, separators=(",",":"))` (ensure_ascii), produced by
 *    our own recursive stringify (§5.1); PSS salt length 478 (MAX) by default, 32 optional (P2);
 *  - envelopes are serialised like Python's default `json.dumps(frame)` (", " / ": " separators,
 *    `\uXXXX` escapes) unless `wireStyle: "compact"`;
 *  - public keys sent as PEM text (default) or base64url(PEM) or base64url(DER SPKI) (P1);
 *  - USER_HELLO with `"sig": ""` (or no `sig`, or signed), no `enc_pubkey`, `to: "server"` (§3.5, P7);
 *  - content_sig variant B (default) or A or D (§5.2, P4);
 *  - ciphertext as padded *standard* base64 by default (§5.3 "accept `+/` and padding").
 *
 * On receive it is tolerant (any key encoding, salt auto-detect, content_sig variants A–D,
 * original ts from the envelope or payload.ts/msg_ts/orig_ts) and it verifies the server's
 * transport `sig` on every frame from a server whose key it knows: the ACK to USER_HELLO carries
 * `payload.server_pub` (P7); more keys can be pinned with `pinServerKey`.
 */

import WebSocket from "ws";
import * as crypto from "node:crypto";
import { Buffer } from "node:buffer";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** A received or sent SOCP frame (envelope, §1). Everything is optional: peers are untrusted. */
export interface Frame {
  type: string;
  from?: string;
  to?: string;
  ts?: number;
  payload?: Record<string, unknown>;
  sig?: string;
  [extra: string]: unknown;
}

export type KeyForm = "spki_b64u" | "pem" | "pem_b64u";
export type ContentSigVariant = "A" | "B" | "C" | "D";
export type SaltLength = 32 | 478;
export type CtEncoding = "b64u" | "b64";
export type WireStyle = "python" | "compact";

export interface RefClientOptions {
  /** ws://host:port of the server. */
  url: string;
  /** The user's UUID (`from` of every frame). Default: a fresh UUID v4. */
  userId?: string;
  /** The user's RSA-4096 private key, PKCS#8 (or PKCS#1) PEM. */
  privateKeyPem: string;
  /** How our public key travels in USER_HELLO / sender_pub. Default "pem". */
  keyForm?: KeyForm;
  /** PSS salt length for everything we sign. Default 478 (Python `PSS.MAX_LENGTH`). */
  saltLength?: SaltLength;
  /** content_sig preimage layout we sign with (§5.2). Default "B". */
  contentSigVariant?: "A" | "B" | "D";
  /** Ciphertext encoding: "b64" = padded standard base64 (default), "b64u" = unpadded base64url. */
  ctEncoding?: CtEncoding;
  /** Sign our own non-HELLO frames (MSG_DIRECT, LIST_REQUEST, ...). Default true. */
  signFrames?: boolean;
  /** USER_HELLO `sig`: "" (default), omitted, or a real PSS signature. */
  helloSig?: "empty" | "omit" | "signed";
  /** USER_HELLO `to`. Default "server" (a placeholder, as Python clients send). */
  helloTo?: string;
  /** Include `enc_pubkey` in USER_HELLO. Default false. */
  sendEncPubkey?: boolean;
  /** Put `meta: {display_name}` into the USER_HELLO payload. */
  displayName?: string;
  /** Envelope serialisation. Default "python" (json.dumps defaults). */
  wireStyle?: WireStyle;
  /** Pin the server's key in advance (any accepted encoding); the ACK's server_pub must match. */
  serverPub?: string;
  /** Default timeout of `next()` and of request helpers, ms. Default 5000. */
  timeoutMs?: number;
  /** Label used in error messages. Default: first 8 chars of userId. */
  name?: string;
}

/** Result of opening a USER_DELIVER / MSG_PUBLIC_CHANNEL. */
export interface Opened {
  plaintext: string;
  /** Sender user id (payload.sender, else envelope from). */
  sender: string;
  /** Sender key as received (payload.sender_pub). */
  senderPub: string;
  /** True when content_sig verified under one of the variants A–D. */
  contentSigOk: boolean;
  /** The variant that verified, if any. */
  variant?: ContentSigVariant;
  /** The ts that made content_sig verify (or the envelope ts). */
  ts?: number;
}

/** How the transport sig of one received frame was judged. */
export type SigStatus =
  | "ok" // from a server whose key we know; sig verified
  | "bad" // from a known server; sig present but does not verify
  | "unsigned" // from a known server; sig missing or ""
  | "foreign" // not from a server whose key we know (user frame, gossip from another server, bare CTRL_CLOSE)
  | "pending"; // received before the server key was known; re-judged when the ACK arrives

export interface SigCounters {
  ok: number;
  bad: number;
  unsigned: number;
  foreign: number;
  pending: number;
}

export interface DirectoryEntry {
  userId: string;
  pubkey?: string;
  serverId?: string;
  displayName?: string;
  online: boolean;
}

/** Thrown when the server answers with an ERROR frame (or for client-side failures). */
export class RefClientError extends Error {
  constructor(message: string, readonly frame?: Frame) {
    super(message);
    this.name = "RefClientError";
  }
  /** The ERROR code, when this wraps an ERROR frame. */
  get code(): string | undefined {
    const c = this.frame?.payload?.code;
    return typeof c === "string" ? c : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Python-compatible JSON (spec §5.1)
// ---------------------------------------------------------------------------------------------

export interface DumpsOptions {
  sortKeys?: boolean;
  /** Python `separators`: [item, key]. Default [", ", ": "] like json.dumps. */
  separators?: [string, string];
  ensureAscii?: boolean;
}

/** Compare strings by Unicode code point, as Python's `sorted()` on str does. */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function hex4(n: number): string {
  return "\\u" + n.toString(16).padStart(4, "0");
}

/** Python's encode_basestring_ascii / encode_basestring. Works on UTF-16 code units, which
 * yields exactly Python's surrogate-pair escapes for characters above U+FFFF. */
function pyString(s: string, ensureAscii: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const short = SHORT_ESCAPES[ch];
    if (short !== undefined) {
      out += short;
      continue;
    }
    const c = s.charCodeAt(i);
    if (c < 0x20) out += hex4(c);
    else if (ensureAscii && c > 0x7e) out += hex4(c);
    else out += ch;
  }
  return out + '"';
}

/** Python float repr for non-integral numbers; integral numbers print as Python ints. */
function pyNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError(`canonical JSON: non-finite number ${n}`);
  if (Number.isInteger(n)) return BigInt(n).toString();
  const [mant, expStr] = n.toExponential().split("e") as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return String(n); // JS and Python agree in [1e-4, 1e16) for the shortest round-trip digits
}

/** A small re-implementation of Python's `json.dumps`. */
export function pythonDumps(value: unknown, opts: DumpsOptions = {}): string {
  const [itemSep, keySep] = opts.separators ?? [", ", ": "];
  const ascii = opts.ensureAscii ?? true;
  const sortKeys = opts.sortKeys ?? false;
  const enc = (v: unknown): string => {
    if (v === null || v === undefined) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (typeof v === "number") return pyNumber(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "string") return pyString(v, ascii);
    if (Array.isArray(v)) return "[" + v.map(enc).join(itemSep) + "]";
    if (typeof v === "object") {
      const obj = v as Record<string, unknown>;
      let keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
      if (sortKeys) keys = keys.sort(compareCodePoints);
      return "{" + keys.map((k) => pyString(k, ascii) + keySep + enc(obj[k])).join(itemSep) +
        "}";
    }
    throw new TypeError(`canonical JSON: unsupported value of type ${typeof v}`);
  };
  return enc(value);
}

/** `json.dumps(v, sort_keys=True, separators=(",",":"), ensure_ascii=...)` (spec §5.1). */
export function canonicalJson(value: unknown, ensureAscii = true): string {
  return pythonDumps(value, { sortKeys: true, separators: [",", ":"], ensureAscii });
}

// ---------------------------------------------------------------------------------------------
// Encodings and keys (spec §5.3, P1)
// ---------------------------------------------------------------------------------------------

export function b64uEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** Padded standard base64 (the tolerated variant). */
export function b64Encode(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/** Tolerant decoder: base64url or standard alphabet, padded or not. Throws on junk. */
export function b64Decode(text: string): Buffer {
  const s = text.trim().replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/_-]*$/.test(s) || s.length % 4 === 1) {
    throw new RefClientError(`not base64/base64url: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** Import a public key sent in any accepted form: PEM, base64url(PEM), DER SPKI, DER PKCS#1. */
export function importPublicKey(text: string): crypto.KeyObject {
  const t = text.trim();
  if (t.startsWith("-----BEGIN")) return crypto.createPublicKey(t);
  const raw = b64Decode(t);
  if (raw.subarray(0, 10).toString("latin1") === "-----BEGIN") {
    return crypto.createPublicKey(raw.toString("utf8"));
  }
  try {
    return crypto.createPublicKey({ key: raw, format: "der", type: "spki" });
  } catch {
    return crypto.createPublicKey({ key: raw, format: "der", type: "pkcs1" });
  }
}

/** Encode a public key in one of the forms peers send. */
export function publicKeyText(key: crypto.KeyObject, form: KeyForm = "spki_b64u"): string {
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  const pem = pub.export({ format: "pem", type: "spki" }).toString();
  if (form === "pem") return pem;
  if (form === "pem_b64u") return b64uEncode(Buffer.from(pem, "utf8"));
  return b64uEncode(pub.export({ format: "der", type: "spki" }));
}

/** Canonical base64url DER SPKI of any accepted key text (what the server sends). */
export function spkiB64u(text: string): string {
  return publicKeyText(importPublicKey(text), "spki_b64u");
}

/** True when two key texts (in any accepted encoding) denote the same public key. */
export function keyEquals(a: string, b: string): boolean {
  try {
    return spkiB64u(a) === spkiB64u(b);
  } catch {
    return false;
  }
}

/** Modulus size and public exponent of a key text. */
export function keyInfo(text: string): { bits: number; e: bigint } {
  const d = importPublicKey(text).asymmetricKeyDetails ?? {};
  return { bits: d.modulusLength ?? 0, e: d.publicExponent ?? 0n };
}

// ---------------------------------------------------------------------------------------------
// RSA primitives (node:crypto)
// ---------------------------------------------------------------------------------------------

const PSS = crypto.constants.RSA_PKCS1_PSS_PADDING;
const OAEP = crypto.constants.RSA_PKCS1_OAEP_PADDING;
/** Max OAEP-SHA256 plaintext for RSA-4096 (§5.3). */
export const MAX_PLAINTEXT_BYTES = 446;

export function pssSign(
  key: crypto.KeyObject,
  data: Uint8Array,
  saltLength: SaltLength = 478,
): Buffer {
  return crypto.createSign("sha256").update(data).sign({ key, padding: PSS, saltLength });
}

/** Verify RSASSA-PSS-SHA256 with salt-length auto-detection (accepts 32 and 478). */
export function pssVerify(key: crypto.KeyObject, data: Uint8Array, sig: string | Uint8Array) {
  try {
    const s = typeof sig === "string" ? b64Decode(sig) : sig;
    return crypto.createVerify("sha256").update(data).verify(
      { key, padding: PSS, saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO },
      s,
    );
  } catch {
    return false;
  }
}

export function oaepEncrypt(key: crypto.KeyObject, plaintext: Uint8Array): Buffer {
  return crypto.publicEncrypt({ key, padding: OAEP, oaepHash: "sha256" }, plaintext);
}

export function oaepDecrypt(key: crypto.KeyObject, ciphertext: Uint8Array): Buffer {
  return crypto.privateDecrypt({ key, padding: OAEP, oaepHash: "sha256" }, ciphertext);
}

/** Transport signature over the canonical payload (§5.1), base64url without padding. */
export function signPayload(
  key: crypto.KeyObject,
  payload: unknown,
  saltLength: SaltLength = 478,
): string {
  return b64uEncode(pssSign(key, Buffer.from(canonicalJson(payload, true), "utf8"), saltLength));
}

/** Verify a transport sig; returns which canonical form verified ("ascii" first, then raw
 * "utf8" per P3), or false. */
export function verifyPayload(
  key: crypto.KeyObject,
  payload: unknown,
  sig: string,
): "ascii" | "utf8" | false {
  if (!sig) return false;
  const ascii = canonicalJson(payload ?? {}, true);
  if (pssVerify(key, Buffer.from(ascii, "utf8"), sig)) return "ascii";
  const utf8 = canonicalJson(payload ?? {}, false);
  if (utf8 !== ascii && pssVerify(key, Buffer.from(utf8, "utf8"), sig)) return "utf8";
  return false;
}

/** The bytes a content_sig covers, per variant (§5.2). Omit `to` for the public channel. */
export function contentSigPreimage(
  variant: ContentSigVariant,
  f: { ciphertext: string; from: string; to?: string; ts: number },
): Buffer {
  const ts = BigInt(f.ts).toString();
  const to = f.to ?? "";
  switch (variant) {
    case "A":
      return Buffer.from(f.ciphertext + f.from + to + ts, "utf8");
    case "B":
    case "C": {
      const b = Buffer.concat([b64Decode(f.ciphertext), Buffer.from(f.from + to + ts, "utf8")]);
      return variant === "B" ? b : crypto.createHash("sha256").update(b).digest();
    }
    case "D": {
      const o: Record<string, unknown> = { ciphertext: f.ciphertext, from: f.from, ts: f.ts };
      if (f.to !== undefined) o.to = f.to;
      return Buffer.from(canonicalJson(o), "utf8");
    }
  }
}

/** Which content_sig variant (A–D) verifies, or undefined. */
export function verifyContentSig(
  key: crypto.KeyObject,
  sig: string,
  f: { ciphertext: string; from: string; to?: string; ts: number },
): ContentSigVariant | undefined {
  for (const v of ["A", "B", "C", "D"] as const) {
    let pre: Buffer;
    try {
      pre = contentSigPreimage(v, f);
    } catch {
      continue; // e.g. ciphertext not decodable for B/C
    }
    if (pssVerify(key, pre, sig)) return v;
  }
  return undefined;
}

/** Verify a PUBLIC_CHANNEL_KEY_SHARE content_sig against the four forms of §5.2. */
export function verifyKeyShareSig(
  creatorPub: string,
  shares: unknown,
  sig: string,
): boolean {
  let key: crypto.KeyObject;
  try {
    key = importPublicKey(creatorPub);
  } catch {
    return false;
  }
  const canon = canonicalJson(shares);
  const sha = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest();
  const candidates: Buffer[] = [
    Buffer.from(canon + creatorPub, "utf8"),
    sha(Buffer.from(canon + creatorPub, "utf8")),
    Buffer.from(JSON.stringify(shares) + creatorPub, "utf8"),
  ];
  try {
    candidates.push(
      Buffer.concat([sha(Buffer.from(canon, "utf8")), key.export({ format: "der", type: "spki" })]),
    );
  } catch { /* ignore */ }
  return candidates.some((c) => pssVerify(key, c, sig));
}

// ---------------------------------------------------------------------------------------------
// Misc helpers
// ---------------------------------------------------------------------------------------------

export function newUserId(): string {
  return crypto.randomUUID();
}

/** PEM text of a fixture key in tests/fixtures/keys (alice, bob, carol, dave, eve, server1..5). */
export function fixtureKeyPem(name: string): string {
  return Deno.readTextFileSync(new URL(`../fixtures/keys/${name}.pem`, import.meta.url));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Describe a frame briefly for error messages. */
export function describeFrame(f: Frame): string {
  const p = f.payload;
  const extra = f.type === "ERROR" && isObj(p)
    ? ` ${String(p.code)}: ${String(p.detail)}`
    : f.type === "ACK" && isObj(p)
    ? ` msg_ref=${String(p.msg_ref)}`
    : "";
  return `${f.type}${extra}`;
}

// ---------------------------------------------------------------------------------------------
// Pure frame builders / openers (usable without a socket)
// ---------------------------------------------------------------------------------------------

export interface BuildDirectOptions {
  from: string;
  to: string;
  /** Recipient key text (any accepted encoding). */
  toPubkey: string;
  plaintext: string | Uint8Array;
  privateKey: crypto.KeyObject;
  keyForm?: KeyForm;
  saltLength?: SaltLength;
  variant?: "A" | "B" | "C" | "D";
  ctEncoding?: CtEncoding;
  /** Transport-sign the payload (true) or send `"sig": ""`. */
  sign?: boolean;
  ts?: number;
  /** Envelope type; "MSG_PUBLIC_CHANNEL" drops `to` from the content_sig preimage. */
  type?: "MSG_DIRECT" | "MSG_PUBLIC_CHANNEL";
  /** Envelope `to` override (e.g. "public"); content_sig still uses `to` for DMs. */
  envelopeTo?: string;
}

/** Build a MSG_DIRECT (or per-recipient MSG_PUBLIC_CHANNEL, P11) frame. */
export function buildDirect(o: BuildDirectOptions): Frame {
  const type = o.type ?? "MSG_DIRECT";
  const pt = typeof o.plaintext === "string" ? Buffer.from(o.plaintext, "utf8") : o.plaintext;
  if (pt.length > MAX_PLAINTEXT_BYTES) {
    throw new RefClientError(`plaintext is ${pt.length} bytes; one OAEP block holds 446`);
  }
  const ctBytes = oaepEncrypt(importPublicKey(o.toPubkey), pt);
  const ciphertext = (o.ctEncoding ?? "b64") === "b64" ? b64Encode(ctBytes) : b64uEncode(ctBytes);
  const ts = o.ts ?? Date.now();
  const salt = o.saltLength ?? 478;
  const pre = contentSigPreimage(o.variant ?? "B", {
    ciphertext,
    from: o.from,
    to: type === "MSG_DIRECT" ? o.to : undefined,
    ts,
  });
  const payload = {
    ciphertext,
    sender_pub: publicKeyText(o.privateKey, o.keyForm ?? "pem"),
    content_sig: b64uEncode(pssSign(o.privateKey, pre, salt)),
  };
  return {
    type,
    from: o.from,
    to: o.envelopeTo ?? o.to,
    ts,
    payload,
    sig: o.sign === false ? "" : signPayload(o.privateKey, payload, salt),
  };
}

/**
 * Decrypt and authenticate a USER_DELIVER (or MSG_PUBLIC_CHANNEL) addressed to `ownId`.
 * Tries every plausible (from, to, ts) and variants A–D; throws if decryption fails.
 */
export function openDelivered(privateKey: crypto.KeyObject, ownId: string, f: Frame): Opened {
  const p = isObj(f.payload) ? f.payload : {};
  const ciphertext = str(p.ciphertext);
  if (!ciphertext) throw new RefClientError(`${f.type} without payload.ciphertext`, f);
  let plaintext: string;
  try {
    plaintext = oaepDecrypt(privateKey, b64Decode(ciphertext)).toString("utf8");
  } catch (e) {
    throw new RefClientError(`cannot decrypt ${f.type}: ${(e as Error).message}`, f);
  }
  const isPublic = f.type === "MSG_PUBLIC_CHANNEL" || p.inner_type === "MSG_PUBLIC_CHANNEL";
  const sender = str(p.sender) ?? str(f.from) ?? "";
  const senderPub = str(p.sender_pub) ?? "";
  const contentSig = str(p.content_sig) ?? "";
  const out: Opened = { plaintext, sender, senderPub, contentSigOk: false, ts: f.ts };
  let key: crypto.KeyObject;
  try {
    key = importPublicKey(senderPub);
  } catch {
    return out;
  }
  const uniq = <T>(xs: (T | undefined)[]) => [...new Set(xs.filter((x) => x !== undefined))] as T[];
  const froms = uniq([str(p.sender), str(f.from)]);
  const tos = isPublic ? [undefined] : uniq([str(f.to), ownId, str(p.user_id)]);
  const tss = uniq(
    [f.ts, p.ts, p.msg_ts, p.orig_ts].map((t) => (typeof t === "number" ? t : undefined)),
  );
  for (const ts of tss) {
    for (const from of froms) {
      for (const to of tos) {
        const v = verifyContentSig(key, contentSig, { ciphertext, from, to, ts });
        if (v) return { ...out, sender: from, contentSigOk: true, variant: v, ts };
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

type Predicate = (f: Frame) => boolean;
type Matcher = string | Predicate | undefined;

interface Waiter {
  pred: Predicate;
  desc: string;
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

function toPredicate(m: Matcher): { pred: Predicate; desc: string } {
  if (m === undefined) return { pred: () => true, desc: "any frame" };
  if (typeof m === "string") return { pred: (f) => f.type === m, desc: m };
  return { pred: m, desc: m.name ? `frame matching ${m.name}` : "frame matching predicate" };
}

export class RefClient {
  readonly userId: string;
  readonly name: string;
  readonly privateKey: crypto.KeyObject;
  readonly publicKey: crypto.KeyObject;
  readonly opts: Required<Omit<RefClientOptions, "displayName" | "serverPub" | "name">> & {
    displayName?: string;
  };
  /** Resolves when the socket closes. */
  readonly closed: Promise<{ code: number; reason: string; error?: string }>;
  /** Every frame received, in order (including those consumed by `next`). */
  readonly received: Frame[] = [];
  /** Text messages that were not a JSON object. */
  readonly nonJson: string[] = [];
  /** Server id and key learned from the ACK to USER_HELLO (or pinned). */
  serverId?: string;
  serverPub?: string;
  /** Online users / keys learned from USER_ADVERTISE, USER_REMOVE and LIST_RESPONSE. */
  readonly directory = new Map<string, DirectoryEntry>();
  /** Transport-sig judgement counters and the offending frames. */
  readonly sigCounters: SigCounters = { ok: 0, bad: 0, unsigned: 0, foreign: 0, pending: 0 };
  readonly sigFailures: { frame: Frame; status: "bad" | "unsigned"; reason: string }[] = [];

  #ws: WebSocket;
  #queue: Frame[] = [];
  #waiters: Waiter[] = [];
  #sigStatus = new WeakMap<Frame, SigStatus>();
  #serverKeys = new Map<string, crypto.KeyObject>();
  #pinnedServerPub?: string;
  #closeInfo?: { code: number; reason: string; error?: string };
  /** The socket's last error: a 1006 close says nothing more (a reset, a protocol error). */
  #lastError?: Error;

  private constructor(ws: WebSocket, opts: RefClientOptions) {
    this.#ws = ws;
    this.userId = opts.userId ?? newUserId();
    this.name = opts.name ?? this.userId.slice(0, 8);
    this.privateKey = crypto.createPrivateKey(opts.privateKeyPem);
    this.publicKey = crypto.createPublicKey(this.privateKey);
    this.opts = {
      url: opts.url,
      userId: this.userId,
      privateKeyPem: opts.privateKeyPem,
      keyForm: opts.keyForm ?? "pem",
      saltLength: opts.saltLength ?? 478,
      contentSigVariant: opts.contentSigVariant ?? "B",
      ctEncoding: opts.ctEncoding ?? "b64",
      signFrames: opts.signFrames ?? true,
      helloSig: opts.helloSig ?? "empty",
      helloTo: opts.helloTo ?? "server",
      sendEncPubkey: opts.sendEncPubkey ?? false,
      displayName: opts.displayName,
      wireStyle: opts.wireStyle ?? "python",
      timeoutMs: opts.timeoutMs ?? 5000,
    };
    this.#pinnedServerPub = opts.serverPub;
    this.closed = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.#closeInfo = {
          code,
          reason: reason.toString("utf8"),
          ...(this.#lastError ? { error: this.#lastError.message } : {}),
        };
        for (const w of this.#waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(
            new RefClientError(
              `${this.name}: socket closed (code ${code}${
                this.#closeInfo.reason ? `, "${this.#closeInfo.reason}"` : ""
              }${
                this.#lastError ? `, error: ${this.#lastError.message}` : ""
              }) while waiting for ${w.desc}; received: ${this.#recent()}`,
            ),
          );
        }
        resolve(this.#closeInfo);
      });
    });
    ws.on("message", (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    // Surfaced through "close", whose message names it.
    ws.on("error", (e: Error) => this.#lastError = e);
  }

  /** Open the WebSocket only (no USER_HELLO) — for hostile-input tests. */
  static open(opts: RefClientOptions): Promise<RefClient> {
    let c: RefClient;
    try {
      crypto.createPrivateKey(opts.privateKeyPem); // fail before opening a socket
      c = new RefClient(new WebSocket(opts.url), opts);
    } catch (e) {
      return Promise.reject(e);
    }
    const ws = c.#ws;
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        ws.off("open", onOpen);
        reject(new RefClientError(`connect ${opts.url}: ${why}`));
      };
      const onError = (e: Error) => fail(e.message);
      const onResponse = (_req: unknown, res: { statusCode?: number }) => {
        fail(`HTTP ${res.statusCode}`);
        ws.terminate();
      };
      const onOpen = () => {
        ws.off("error", onError);
        ws.off("unexpected-response", onResponse);
        resolve(c);
      };
      ws.once("error", onError);
      ws.once("unexpected-response", onResponse);
      ws.once("open", onOpen);
    });
  }

  /** Open the socket and complete USER_HELLO → ACK. Rejects with RefClientError on ERROR. */
  static async connect(opts: RefClientOptions): Promise<RefClient> {
    const c = await RefClient.open(opts);
    try {
      await c.hello();
    } catch (e) {
      c.terminate();
      throw e;
    }
    return c;
  }

  // ---- sending ------------------------------------------------------------------------------

  /** Send a text message as is. */
  sendRaw(text: string): void {
    this.#ws.send(text);
  }

  /** Serialise (python or compact style) and send a frame. */
  send(frame: object): void {
    this.sendRaw(
      this.opts.wireStyle === "python"
        ? pythonDumps(frame)
        : pythonDumps(frame, { separators: [",", ":"], ensureAscii: false }),
    );
  }

  /** Build an envelope from us; signs the payload unless `sign` is false (then `"sig": ""`). */
  frame(
    type: string,
    to: string,
    payload: Record<string, unknown> = {},
    o: { sign?: boolean; ts?: number } = {},
  ): Frame {
    const sign = o.sign ?? this.opts.signFrames;
    return {
      type,
      from: this.userId,
      to,
      ts: o.ts ?? Date.now(),
      payload,
      sig: sign ? signPayload(this.privateKey, payload, this.opts.saltLength) : "",
    };
  }

  /** Our public key in the configured (or given) form. */
  pubkeyText(form: KeyForm = this.opts.keyForm): string {
    return publicKeyText(this.publicKey, form);
  }

  /** The USER_HELLO frame this client sends. */
  helloFrame(): Frame {
    const payload: Record<string, unknown> = { client: "ref-v1", pubkey: this.pubkeyText() };
    if (this.opts.sendEncPubkey) payload.enc_pubkey = payload.pubkey;
    if (this.opts.displayName !== undefined) payload.meta = { display_name: this.opts.displayName };
    const f: Frame = {
      type: "USER_HELLO",
      from: this.userId,
      to: this.opts.helloTo,
      ts: Date.now(),
      payload,
    };
    if (this.opts.helloSig === "empty") f.sig = "";
    if (this.opts.helloSig === "signed") {
      f.sig = signPayload(this.privateKey, payload, this.opts.saltLength);
    }
    return f;
  }

  /** Send USER_HELLO and wait for the ACK (msg_ref "USER_HELLO"). Learns server_id/server_pub. */
  async hello(timeoutMs = this.opts.timeoutMs): Promise<Frame> {
    this.send(this.helloFrame());
    const ack = await this.next(
      function helloAckOrError(f) {
        return f.type === "ERROR" ||
          (f.type === "ACK" && (f.payload?.msg_ref === "USER_HELLO" || !f.payload?.msg_ref));
      },
      timeoutMs,
    );
    if (ack.type === "ERROR") {
      throw new RefClientError(`${this.name}: USER_HELLO refused: ${describeFrame(ack)}`, ack);
    }
    return ack;
  }

  /** Remember a server key (any encoding) so frames from that server get verified. */
  pinServerKey(serverId: string, pubkey: string): void {
    this.#serverKeys.set(serverId, importPublicKey(pubkey));
    for (const f of this.received) {
      if (this.#sigStatus.get(f) === "pending" || this.#sigStatus.get(f) === "foreign") {
        if (f.from === serverId) {
          this.#adjust(this.#sigStatus.get(f)!, -1);
          this.#judge(f);
        }
      }
    }
  }

  /** Build and send a MSG_DIRECT. `toPubkey` may be undefined to use the directory. */
  sendDirect(
    toUserId: string,
    toPubkey: string | undefined,
    plaintext: string | Uint8Array,
    o: Partial<Omit<BuildDirectOptions, "from" | "to" | "toPubkey" | "plaintext">> = {},
  ): Promise<Frame> {
    const f = this.buildDirect(toUserId, toPubkey, plaintext, o);
    this.send(f);
    return Promise.resolve(f);
  }

  /** Same as sendDirect without sending (for tampering tests). */
  buildDirect(
    toUserId: string,
    toPubkey: string | undefined,
    plaintext: string | Uint8Array,
    o: Partial<Omit<BuildDirectOptions, "from" | "to" | "toPubkey" | "plaintext">> = {},
  ): Frame {
    const key = toPubkey ?? this.directory.get(toUserId)?.pubkey;
    if (!key) throw new RefClientError(`${this.name}: no public key known for ${toUserId}`);
    return buildDirect({
      from: this.userId,
      to: toUserId,
      toPubkey: key,
      plaintext,
      privateKey: this.privateKey,
      keyForm: this.opts.keyForm,
      saltLength: this.opts.saltLength,
      variant: this.opts.contentSigVariant,
      ctEncoding: this.opts.ctEncoding,
      sign: this.opts.signFrames,
      ...o,
    });
  }

  /** Per-recipient public-channel message (P11): MSG_PUBLIC_CHANNEL with `to` = member id,
   * content_sig over ciphertext ‖ from ‖ ts. */
  sendPublicTo(
    memberId: string,
    memberPubkey: string | undefined,
    plaintext: string,
    o: Partial<Omit<BuildDirectOptions, "from" | "to" | "toPubkey" | "plaintext">> = {},
  ): Promise<Frame> {
    return this.sendDirect(memberId, memberPubkey, plaintext, { type: "MSG_PUBLIC_CHANNEL", ...o });
  }

  /** Decrypt a USER_DELIVER / MSG_PUBLIC_CHANNEL and verify its content_sig (variants A–D). */
  openDeliver(frame: Frame): Opened {
    return openDelivered(this.privateKey, this.userId, frame);
  }

  /** Send LIST_REQUEST and return LIST_RESPONSE `users` (ids). Records `entries` keys. */
  async list(timeoutMs = this.opts.timeoutMs): Promise<string[]> {
    const resp = await this.request(
      this.frame("LIST_REQUEST", this.serverId ?? "server"),
      "LIST_RESPONSE",
      timeoutMs,
    );
    const users = resp.payload?.users;
    if (!Array.isArray(users)) {
      throw new RefClientError(`${this.name}: LIST_RESPONSE without users[]`, resp);
    }
    return users.map((u) => (isObj(u) ? String(u.user_id) : String(u)));
  }

  /** Send `frame` and wait for a frame matching `match`; an ERROR arriving first is thrown. */
  async request(frame: Frame, match: Matcher, timeoutMs = this.opts.timeoutMs): Promise<Frame> {
    const { pred, desc } = toPredicate(match);
    this.send(frame);
    const f = await this.next(
      Object.defineProperty((x: Frame) => x.type === "ERROR" || pred(x), "name", {
        value: `${desc} (or ERROR)`,
      }),
      timeoutMs,
    );
    if (f.type === "ERROR" && !pred(f)) {
      throw new RefClientError(`${this.name}: ${frame.type} answered ${describeFrame(f)}`, f);
    }
    return f;
  }

  // ---- receiving ----------------------------------------------------------------------------

  /**
   * Next received frame matching `match` (a type name, a predicate, or anything). Frames are
   * buffered; a matching frame already buffered is returned at once and removed from the
   * buffer. Rejects on timeout or when the socket closes.
   */
  next(match?: Matcher, timeoutMs = this.opts.timeoutMs): Promise<Frame> {
    const { pred, desc } = toPredicate(match);
    const i = this.#queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0]!);
    if (this.#closeInfo) {
      return Promise.reject(
        new RefClientError(
          `${this.name}: socket already closed (code ${this.#closeInfo.code}${
            this.#lastError ? `, error: ${this.#lastError.message}` : ""
          }) — no ${desc}; ` +
            `received: ${this.#recent()}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        pred,
        desc,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          reject(
            new RefClientError(
              `${this.name}: timed out after ${timeoutMs} ms waiting for ${desc}; ` +
                `received so far: ${this.#recent()}`,
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(w);
    });
  }

  /** Wait `ms` for a frame matching `match` (buffered ones count): resolves `undefined` when
   * none arrives (or the socket closes), else the offending frame — for negative tests:
   * `assert.equal(await c.expectNone("USER_DELIVER"), undefined)`. */
  async expectNone(match: Matcher, ms = 300): Promise<Frame | undefined> {
    try {
      return await this.next(match, ms);
    } catch (e) {
      if (e instanceof RefClientError && /timed out|closed/.test(e.message)) return undefined;
      throw e;
    }
  }

  /** Frames received but not yet consumed by `next`. */
  get buffered(): readonly Frame[] {
    return this.#queue;
  }

  /** Drop all buffered frames (optionally only those matching). Returns them. */
  drain(match?: Matcher): Frame[] {
    const { pred } = toPredicate(match);
    const out: Frame[] = [];
    this.#queue = this.#queue.filter((f) => (pred(f) ? (out.push(f), false) : true));
    return out;
  }

  /** Transport-sig status of a received frame. */
  sigStatus(frame: Frame): SigStatus | undefined {
    return this.#sigStatus.get(frame);
  }

  /** True when at least one server frame verified and none failed / stayed pending. */
  get allServerSigsOk(): boolean {
    const c = this.sigCounters;
    return c.ok > 0 && c.bad === 0 && c.unsigned === 0 && c.pending === 0;
  }

  /** Throw a descriptive error unless `allServerSigsOk`. */
  assertServerSigsOk(): void {
    if (this.allServerSigsOk) return;
    const c = this.sigCounters;
    const why = this.sigFailures.map((x) => `${describeFrame(x.frame)}: ${x.reason}`).join("; ");
    throw new RefClientError(
      `${this.name}: server sigs not all verified (ok=${c.ok} bad=${c.bad} unsigned=${c.unsigned} ` +
        `pending=${c.pending}${c.pending ? " — server key never learned?" : ""})${
          why ? ": " + why : ""
        }`,
    );
  }

  /** How the socket closed, once it has. */
  get closeInfo(): { code: number; reason: string } | undefined {
    return this.#closeInfo;
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  // ---- closing ------------------------------------------------------------------------------

  /** Send `{"type":"CTRL_CLOSE"}` (bare, §3.10) then close with 1000; waits for the close. */
  async close(timeoutMs = this.opts.timeoutMs): Promise<{ code: number; reason: string }> {
    if (this.#ws.readyState === WebSocket.OPEN) {
      this.sendRaw('{"type": "CTRL_CLOSE"}');
      this.#ws.close(1000, "bye");
    } else if (this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.terminate();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const r = await Promise.race([this.closed, t]);
    clearTimeout(timer);
    if (r === "timeout") {
      this.#ws.terminate();
      return await this.closed;
    }
    return r;
  }

  /** Drop the TCP connection without a closing handshake. */
  terminate(): void {
    this.#ws.terminate();
  }

  // ---- internals ----------------------------------------------------------------------------

  #recent(): string {
    const last = this.received.slice(-8).map(describeFrame);
    return last.length ? `[${last.join(", ")}]` : "nothing";
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    const text = data.toString("utf8");
    let f: unknown;
    try {
      f = JSON.parse(text);
    } catch {
      f = undefined;
    }
    if (isBinary || !isObj(f) || typeof f.type !== "string") {
      this.nonJson.push(isBinary ? `<binary ${data.length} bytes> ${text}` : text);
      return;
    }
    const frame = f as Frame;
    this.received.push(frame);
    this.#absorb(frame);
    this.#judge(frame);
    const wi = this.#waiters.findIndex((w) => w.pred(frame));
    if (wi >= 0) {
      const [w] = this.#waiters.splice(wi, 1);
      clearTimeout(w!.timer);
      w!.resolve(frame);
    } else {
      this.#queue.push(frame);
    }
  }

  /** Learn server key, directory entries. */
  #absorb(f: Frame): void {
    const p = isObj(f.payload) ? f.payload : {};
    if (f.type === "ACK" && (p.msg_ref === "USER_HELLO" || !p.msg_ref) && !this.serverId) {
      this.serverId = str(p.server_id) ?? str(f.from);
      const spub = str(p.server_pub);
      if (this.#pinnedServerPub && spub && !keyEquals(spub, this.#pinnedServerPub)) {
        this.sigFailures.push({
          frame: f,
          status: "bad",
          reason: "ACK server_pub differs from the pinned key",
        });
        this.sigCounters.bad++;
      }
      const use = this.#pinnedServerPub ?? spub;
      if (this.serverId && use) {
        this.serverPub = use;
        try {
          this.pinServerKey(this.serverId, use);
        } catch {
          this.sigFailures.push({ frame: f, status: "bad", reason: "server_pub not importable" });
          this.sigCounters.bad++;
        }
      }
    }
    if (f.type === "USER_ADVERTISE") {
      const uid = str(p.user_id);
      if (uid) {
        const meta = isObj(p.meta) ? p.meta : {};
        const prev = this.directory.get(uid);
        this.directory.set(uid, {
          userId: uid,
          pubkey: str(meta.pubkey) ?? str(p.pubkey) ?? prev?.pubkey,
          serverId: str(p.server_id) ?? prev?.serverId,
          displayName: str(meta.display_name) ?? prev?.displayName,
          online: true,
        });
      }
    }
    if (f.type === "USER_REMOVE") {
      const uid = str(p.user_id);
      const e = uid ? this.directory.get(uid) : undefined;
      if (e && (!str(p.server_id) || !e.serverId || e.serverId === p.server_id)) e.online = false;
    }
    if (f.type === "LIST_RESPONSE") {
      const rows = [
        ...(Array.isArray(p.entries) ? p.entries : []),
        ...(Array.isArray(p.users) ? p.users : []),
      ];
      for (const r of rows) {
        if (!isObj(r) || !str(r.user_id)) continue;
        const uid = r.user_id as string;
        const prev = this.directory.get(uid);
        const meta = isObj(r.meta) ? r.meta : {};
        this.directory.set(uid, {
          userId: uid,
          pubkey: str(r.pubkey) ?? str(meta.pubkey) ?? prev?.pubkey,
          serverId: str(r.server_id) ?? prev?.serverId,
          displayName: str(r.display_name) ?? str(meta.display_name) ?? prev?.displayName,
          online: true,
        });
      }
    }
  }

  #adjust(s: SigStatus, d: number): void {
    this.sigCounters[s] += d;
  }

  #judge(f: Frame): void {
    let status: SigStatus;
    const from = f.from;
    const key = from !== undefined ? this.#serverKeys.get(from) : undefined;
    if (key) {
      if (typeof f.sig !== "string" || f.sig === "") {
        status = "unsigned";
        this.sigFailures.push({ frame: f, status, reason: "missing or empty sig" });
      } else if (verifyPayload(key, f.payload ?? {}, f.sig)) {
        status = "ok";
      } else {
        status = "bad";
        this.sigFailures.push({ frame: f, status, reason: "sig does not verify" });
      }
    } else if (
      this.serverId === undefined && from !== undefined && from !== this.userId &&
      !this.directory.has(from)
    ) {
      status = "pending"; // may be from our server; decided once the ACK teaches us its key
    } else {
      status = "foreign";
    }
    this.#sigStatus.set(f, status);
    this.#adjust(status, 1);
    if (this.serverId !== undefined && status !== "pending") this.#settlePending();
  }

  /** After the server key is known, pending frames from other ids become "foreign". */
  #settlePending(): void {
    if (this.sigCounters.pending === 0) return;
    for (const f of this.received) {
      if (this.#sigStatus.get(f) === "pending") {
        this.#adjust("pending", -1);
        this.#adjust("foreign", 1);
        this.#sigStatus.set(f, "foreign");
      }
    }
  }
}
