/**
 * A seeded, structured generator of hostile frames: valid frames of every type in
 * `protocol/frames.ts`, then mutated (fields dropped, retyped or replaced by edge values),
 * plus random JSON, sizes around the frame limits, deep nesting, unicode edge cases (lone
 * surrogates, BOM, NUL, RTL overrides), huge numbers, duplicate keys, truncation, base64 edge
 * cases and plain garbage. The same seed gives the same frames, on any machine.
 * @module
 */
import { PAYLOADS } from "../../protocol/frames.ts";
import {
  B64_LENGTH_MAX,
  FRAME_DEPTH_MAX,
  GOSSIP_DIGEST_BUCKETS,
  ID_LENGTH_MAX,
  SERVER_FRAME_BYTES_MAX,
  USER_FRAME_BYTES_MAX,
} from "../../protocol/limits.ts";

/** sfc32, seeded through splitmix32: fast, small, and good enough to drive a fuzzer. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(readonly seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** A child generator, so one stream's length never shifts another's. */
  fork(): Rng {
    return new Rng(this.u32());
  }
}

const B64U = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX = "0123456789abcdef";

/** The identities frames talk about: a small pool, so frames hit the same users and servers. */
export interface Cast {
  users: string[];
  servers: string[];
  /** Valid RSA-4096 public keys (base64url DER SPKI), for frames that must carry one. */
  keys: string[];
}

/** A default cast with fixed ids; `keys` should be real keys when frames reach a live server. */
export function defaultCast(keys: string[] = []): Cast {
  const hex = (i: number, n: number) => i.toString(16).padStart(n, "0");
  return {
    users: Array.from({ length: 8 }, (_, i) => `00000000-0000-4000-8000-${hex(i + 1, 12)}`),
    servers: Array.from({ length: 4 }, (_, i) => `10000000-0000-4000-8000-${hex(i + 1, 12)}`),
    keys: keys.length > 0
      ? keys
      : ["MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA" + "A".repeat(700)],
  };
}

const DEFAULT_CAST = defaultCast();

/** Values that break assumptions: wrong types, extremes, odd unicode (built once). */
function weirdValues(_r: Rng): readonly unknown[] {
  return WEIRD;
}

const WEIRD: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1.5,
  2 ** 53 + 1,
  -(2 ** 63),
  1e308,
  Number.MIN_VALUE,
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udfff",
  "\udc00\ud800",
  "\ufeff",
  "\u202e\u202d",
  "e\u0301\u0301\u0301",
  "😀".repeat(33),
  "\u0085\u2028\u2029",
  "%00%ff",
  "../../etc/passwd",
  "A".repeat(ID_LENGTH_MAX),
  "A".repeat(ID_LENGTH_MAX + 1),
  "x".repeat(B64_LENGTH_MAX + 1),
  [],
  [[[[]]]],
  {},
  { __proto__: { polluted: true } },
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { polluted: true } } },
  Array.from({ length: 50 }, (_, i) => i),
  "null",
  "undefined",
  "NaN",
  "1e400",
  "USER_HELLO",
];

/** base64 edge cases: empty, padding, both alphabets, whitespace, lengths around the limit. */
function b64Edge(r: Rng): string {
  return r.pick(B64_EDGE);
}

const B64_EDGE: readonly string[] = [
  "",
  "=",
  "==",
  "A",
  "AA",
  "AA=",
  "AA==",
  "AA===",
  "AAA=",
  "A===",
  "+/+/",
  "-_-_",
  "+_-/",
  "AA AA",
  "AAAA\n",
  " AAAA",
  "AAAA=AAAA",
  "Zm9v\u0000",
  "Zm9vYg==",
  "Zm9vYg",
  "ÀÁÂ",
  "😀😀😀😀",
  B64U.repeat(128).slice(0, B64_LENGTH_MAX),
  B64U.repeat(129).slice(0, B64_LENGTH_MAX + 1),
  B64U.repeat(128).slice(0, B64_LENGTH_MAX - 1) + "=",
];

/** Random base64url and hex text, drawn once per seed; fields are slices of it (fast). */
const POOL_CHARS = 1 << 16;
const pools = new WeakMap<Rng, { b64: string; hex: string }>();
function pool(r: Rng): { b64: string; hex: string } {
  let p = pools.get(r);
  if (!p) {
    const b: string[] = [];
    const h: string[] = [];
    for (let i = 0; i < POOL_CHARS; i++) {
      const x = r.u32();
      b.push(B64U[x & 63]!);
      h.push(HEX[(x >>> 6) & 15]!);
    }
    p = { b64: b.join(""), hex: h.join("") };
    pools.set(r, p);
  }
  return p;
}

/** A valid-looking random base64url string of `n` characters. */
function b64(r: Rng, n = 684): string {
  const text = pool(r).b64;
  const at = r.int(POOL_CHARS - n);
  return text.slice(at, at + n);
}

function hex(r: Rng, n: number): string {
  const text = pool(r).hex;
  const at = r.int(POOL_CHARS - n);
  return text.slice(at, at + n);
}

/** A random JSON-able value, `depth` levels deep at most. */
export function randomJson(r: Rng, depth = 4): unknown {
  const k = r.int(depth > 0 ? 9 : 6);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.chance(0.5) ? r.int(1000) - 500 : (r.float() - 0.5) * 10 ** r.int(400);
    case 3:
      return randomString(r, r.int(20));
    case 4:
      return r.pick(weirdValues(r));
    case 5:
      return r.pick(["", "a", "type", "payload", "sig", "from", "to", "ts"]);
    case 6:
    case 7: {
      const o: Record<string, unknown> = {};
      const n = r.int(6);
      for (let i = 0; i < n; i++) o[randomString(r, 1 + r.int(8))] = randomJson(r, depth - 1);
      return o;
    }
    default:
      return Array.from({ length: r.int(6) }, () => randomJson(r, depth - 1));
  }
}

/** A string of random UTF-16 code units: ASCII, controls, multi-byte, surrogates (lone too). */
export function randomString(r: Rng, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    if (k < 5) s += String.fromCharCode(32 + r.int(95));
    else if (k === 5) s += String.fromCharCode(r.int(32));
    else if (k === 6) s += String.fromCharCode(0x80 + r.int(0x780));
    else if (k === 7) s += String.fromCharCode(0x800 + r.int(0xd000));
    else if (k === 8) s += String.fromCharCode(0xd800 + r.int(0x800)); // surrogate, maybe lone
    else s += "😀";
  }
  return s;
}

/** A valid payload for each type we know; other types get a payload with many common fields. */
function validPayload(r: Rng, type: string, cast: Cast): Record<string, unknown> {
  const user = () => r.pick(cast.users);
  const server = () => r.pick(cast.servers);
  const key = () => r.pick(cast.keys);
  const addr = () => ({ host: "127.0.0.1", port: 1 + r.int(65535), pubkey: key() });
  switch (type) {
    case "SERVER_HELLO_JOIN":
    case "SERVER_HELLO_LINK":
    case "SERVER_ANNOUNCE":
      return addr();
    case "SERVER_WELCOME":
      return {
        assigned_id: server(),
        servers: Array.from({ length: r.int(3) }, () => ({ server_id: server(), ...addr() })),
      };
    case "USER_ADVERTISE":
      return {
        user_id: user(),
        server_id: server(),
        meta: { display_name: randomString(r, r.int(10)) },
        pubkey: key(),
      };
    case "USER_REMOVE":
      return { user_id: user(), server_id: server() };
    case "SERVER_DELIVER":
      return r.chance(0.5)
        ? {
          user_id: user(),
          sender: user(),
          ciphertext: b64(r),
          sender_pub: key(),
          content_sig: b64(r),
        }
        : {
          user_id: user(),
          sender: user(),
          inner_type: r.pick(["MSG_PUBLIC_CHANNEL", "FILE_START", "FILE_CHUNK", "FILE_END", "X"]),
          file_id: "f1",
          index: r.int(10),
          ciphertext: b64(r),
        };
    case "USER_HELLO":
      return {
        client: "fuzz",
        pubkey: key(),
        ...(r.chance(0.2) ? { enc_pubkey: key() } : {}),
        meta: { display_name: randomString(r, r.int(12)) },
      };
    case "MSG_DIRECT":
    case "MSG_PUBLIC_CHANNEL":
      return { ciphertext: b64(r), sender_pub: key(), content_sig: b64(r) };
    case "USER_DELIVER":
      return { ciphertext: b64(r), sender: user(), sender_pub: key(), content_sig: b64(r) };
    case "PUBLIC_CHANNEL_ADD":
      return { add: [user(), user()], if_version: r.int(5) };
    case "PUBLIC_CHANNEL_UPDATED":
      return { version: r.int(5), wraps: [{ member_id: user(), wrapped_key: b64(r, 32) }] };
    case "PUBLIC_CHANNEL_KEY_SHARE":
      return {
        shares: [{ member: user(), wrapped_public_channel_key: b64(r, 32) }],
        creator_pub: key(),
        content_sig: b64(r, 32),
      };
    case "FILE_START":
      return { file_id: "f1", name: "a.txt", size: r.int(1e6), sha256: hex(r, 64), mode: "dm" };
    case "FILE_CHUNK":
      return { file_id: "f1", index: r.int(100), ciphertext: b64(r) };
    case "FILE_END":
      return { file_id: "f1" };
    case "ACK":
      return { msg_ref: r.pick(["USER_HELLO", "x", ""]) };
    case "ERROR":
      return {
        code: r.pick(["USER_NOT_FOUND", "INVALID_SIG", "BAD_KEY", "TIMEOUT", "UNKNOWN_TYPE"]),
        detail: "fuzz",
      };
    case "LIST_RESPONSE":
      return { users: [user(), { user_id: user() }] };
    case "PUBKEY_REQUEST":
      return { user_id: user() };
    case "PUBKEY_RESPONSE":
      return { user_id: user(), pubkey: key(), server_id: server() };
    case "LOGIN_REGISTER":
      return { privkey_store: b64(r, 200), pake_password: hex(r, 64) };
    case "LOGIN_START":
      return { user_id: user(), A: hex(r, 512) };
    case "LOGIN_PROOF":
      return { user_id: user(), M1: hex(r, 64) };
    case "AUTH_RESPONSE":
      return { nonce: `n-${hex(r, 16)}`, signature: b64(r) };
    case "GOSSIP_DIGEST": {
      const buckets = () =>
        Array.from({ length: GOSSIP_DIGEST_BUCKETS }, () => [r.int(1000), hex(r, 64)]);
      return { users: buckets(), members: buckets() };
    }
    case "HEARTBEAT":
    case "CTRL_CLOSE":
    case "LIST_REQUEST":
      return {};
    default:
      return schemaPayload(r, type, cast);
  }
}

/** Field values that satisfy most payload schemas, by field name. */
function commonFields(r: Rng, cast: Cast): Record<string, unknown> {
  return {
    user_id: r.pick(cast.users),
    server_id: r.pick(cast.servers),
    pubkey: r.pick(cast.keys),
    msg_ref: `m-${r.int(1000)}`,
    nonce: `n-${r.int(1000)}`,
    signature: b64(r),
    ciphertext: b64(r),
  };
}

/**
 * A payload for a type this generator has no template for (one added to frames.ts later): each
 * field of the schema gets the first candidate value the field accepts.
 */
function schemaPayload(r: Rng, type: string, cast: Cast): Record<string, unknown> {
  type Field = { safeParse(v: unknown): { success: boolean } };
  const shape = (PAYLOADS[type as keyof typeof PAYLOADS] as unknown as {
    shape?: Record<string, Field>;
  }).shape ?? {};
  const common = commonFields(r, cast);
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(shape)) {
    const candidates = [
      common[name],
      `v-${r.int(1000)}`,
      hex(r, 64),
      b64(r, 64),
      r.int(100),
      {},
      [],
      true,
    ];
    for (const value of candidates) {
      if (value !== undefined && field.safeParse(value).success) {
        out[name] = value;
        break;
      }
    }
  }
  return out;
}

/** Every frame type the protocol module knows. */
export const FRAME_TYPES: readonly string[] = Object.keys(PAYLOADS);

/** Which family of input a frame came from (for statistics). */
export type FrameKind =
  | "valid"
  | "mutated"
  | "text"
  | "size"
  | "deep"
  | "random_json"
  | "garbage"
  | "duplicate_keys";

/** One generated frame: the text to send and, for structured ones, the object behind it. */
export interface Generated {
  kind: FrameKind;
  text: string;
}

/** A valid frame (as an object) of `type` from `from`. */
export function validFrame(
  r: Rng,
  type: string,
  cast: Cast,
  at_ms: number,
  from?: string,
): Record<string, unknown> {
  const isServer = /^SERVER_|^USER_ADVERTISE|^USER_REMOVE|^PUBLIC_CHANNEL_(ADD|UPDATED)|^HEARTBEAT/
    .test(type);
  return {
    type,
    from: from ?? (isServer ? r.pick(cast.servers) : r.pick(cast.users)),
    to: r.chance(0.2)
      ? r.pick(["*", "public", "server"])
      : r.pick([...cast.users, ...cast.servers]),
    ts: r.chance(0.9) ? at_ms - r.int(5000) : r.pick([0, -1, 1e16, 1e16 + 2, 1.5, 2 ** 53]),
    payload: validPayload(r, type, cast),
    sig: r.chance(0.5) ? "" : b64(r, 684),
  };
}

/** Replaces, drops or retypes one field somewhere in `frame` (in place). */
function mutate(r: Rng, frame: Record<string, unknown>): void {
  const payload = frame.payload;
  const target = r.chance(0.4) || typeof payload !== "object" || payload === null
    ? frame
    : payload as Record<string, unknown>;
  const keys = Object.keys(target);
  const k = keys.length > 0 ? r.pick(keys) : "x";
  switch (r.int(9)) {
    case 0:
      delete target[k];
      break;
    case 1:
      target[k] = r.pick(weirdValues(r));
      break;
    case 2:
      target[k] = b64Edge(r);
      break;
    case 3:
      target[k] = randomJson(r, 3);
      break;
    case 4:
      target[randomString(r, 1 + r.int(6))] = randomJson(r, 2);
      break;
    case 5:
      frame.type = r.chance(0.5)
        ? r.pick(FRAME_TYPES)
        : r.pick(["", "user_hello", "MSG_PRIVATE", "X".repeat(65), "ÜSER_HELLO", "__proto__"]);
      break;
    case 6:
      frame.payload = r.chance(0.5) ? validPayload(r, r.pick(FRAME_TYPES), DEFAULT_CAST) : [];
      break;
    case 7:
      frame.ts = r.pick([-1, 1e16 + 1, 1e308, "1", null, 1.000001, -0]);
      break;
    default:
      if (typeof target[k] === "string") {
        const s = target[k] as string;
        target[k] = s.slice(0, r.int(s.length + 1)) + randomString(r, r.int(4));
      } else target[k] = String(target[k]);
  }
}

/** Nests `inner` `depth` levels deep in arrays or objects. */
function nest(r: Rng, depth: number, inner: string): string {
  const obj = r.chance(0.5);
  return obj
    ? '{"a":'.repeat(depth) + inner + "}".repeat(depth)
    : "[".repeat(depth) + inner + "]".repeat(depth);
}

/** Pads `frame` so its serialisation is `target` UTF-8 bytes (±1), with multi-byte filler. */
function sized(r: Rng, frame: Record<string, unknown>, target: number): string {
  const filler = r.pick(["x", "é", "€", "😀"]);
  const bytesPer = new TextEncoder().encode(filler).length;
  (frame.payload as Record<string, unknown>).pad = "";
  const base = new TextEncoder().encode(JSON.stringify(frame)).length;
  const n = Math.max(0, Math.floor((target - base) / bytesPer));
  (frame.payload as Record<string, unknown>).pad = filler.repeat(n);
  const text = JSON.stringify(frame);
  return text;
}

/** The generator: `next()` gives one frame; the mix is fixed, the content follows the seed. */
export class FrameGen {
  readonly r: Rng;
  #now = 1_760_000_000_000;
  counts: Record<FrameKind, number> = {
    valid: 0,
    mutated: 0,
    text: 0,
    size: 0,
    deep: 0,
    random_json: 0,
    garbage: 0,
    duplicate_keys: 0,
  };

  constructor(seed: number, readonly cast: Cast = defaultCast(), readonly bigFrames = true) {
    this.r = new Rng(seed);
  }

  /** The generator's notion of now (frames' ts cluster around it). */
  get now(): number {
    return this.#now;
  }

  /** Advances the generator's clock. */
  tick(ms: number): void {
    this.#now += ms;
  }

  /** One frame, from `from` when it is structured and `from` is given. */
  next(from?: string, types: readonly string[] = FRAME_TYPES): Generated {
    const r = this.r;
    const roll = r.int(1000);
    const type = r.pick(types);
    let g: Generated;
    if (roll < 250) {
      g = { kind: "valid", text: JSON.stringify(validFrame(r, type, this.cast, this.#now, from)) };
    } else if (roll < 650) {
      const f = validFrame(r, type, this.cast, this.#now, from);
      const n = 1 + r.int(3);
      for (let i = 0; i < n; i++) mutate(r, f);
      g = { kind: "mutated", text: safeStringify(f) };
    } else if (roll < 780) {
      g = {
        kind: "text",
        text: textMutation(r, JSON.stringify(validFrame(r, type, this.cast, this.#now, from))),
      };
    } else if (roll < 840) {
      g = {
        kind: "duplicate_keys",
        text: duplicateKeys(r, validFrame(r, type, this.cast, this.#now, from)),
      };
    } else if (roll < 880) {
      g = { kind: "deep", text: deep(r, validFrame(r, type, this.cast, this.#now, from)) };
    } else if (roll < 940) {
      g = {
        kind: "random_json",
        text: safeStringify(
          r.chance(0.7) ? { type, ...(randomJson(r, 4) as object) } : randomJson(r, 5),
        ),
      };
    } else if (roll < 990 || !this.bigFrames) {
      g = { kind: "garbage", text: garbage(r) };
    } else {
      const limit = r.pick([USER_FRAME_BYTES_MAX, SERVER_FRAME_BYTES_MAX]);
      const target = limit + r.pick([-1, 0, 1, 2, -3]);
      g = { kind: "size", text: sized(r, validFrame(r, type, this.cast, this.#now, from), target) };
    }
    this.counts[g.kind]++;
    return g;
  }
}

/** JSON.stringify that never throws (BigInt, cycles are not produced, but be safe). */
function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? "null";
  } catch {
    return "{}";
  }
}

function textMutation(r: Rng, text: string): string {
  switch (r.int(8)) {
    case 0:
      return text.slice(0, r.int(text.length)); // truncated
    case 1: {
      const i = r.int(text.length);
      return text.slice(0, i) + randomString(r, 1 + r.int(3)) + text.slice(i + 1); // flipped
    }
    case 2:
      return text.replace(
        /"ts":[^,}]+/,
        `"ts":${
          r.pick([
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "0x10",
            "NaN",
            "Infinity",
            "1e-400",
            "01",
          ])
        }`,
      );
    case 3:
      // JSON escapes of lone surrogates and NUL inside a string field.
      return text.replace(
        /"from":"/,
        `"from":"${r.pick(["\\ud800", "\\udfff", "\\u0000", "\\ud83d\\ude00", "\\ud83d"])}`,
      );
    case 4:
      return "\ufeff" + text; // BOM
    case 5:
      return ` \n\t${text}\r\n `;
    case 6:
      return text.replace(
        /"payload":\{/,
        `"payload":{"n":${
          r.pick(["1e308", "-1e308", "9007199254740993", "-0", "1E+2", "4.9e-324"])
        },`,
      );
    default:
      return text + r.pick(["", "}", ",", "{}", "\u0000", " garbage"]);
  }
}

function duplicateKeys(r: Rng, frame: Record<string, unknown>): string {
  const text = JSON.stringify(frame);
  const dup = r.pick([
    `"type":"${r.pick(FRAME_TYPES)}"`,
    `"from":${JSON.stringify(r.pick([...DEFAULT_CAST.users, 7, null]))}`,
    `"payload":{}`,
    `"payload":[]`,
    `"sig":""`,
    `"ts":-1`,
    `"__proto__":{"x":1}`,
  ]);
  // Before the first key (the later one wins) or after the last (the duplicate wins).
  return r.chance(0.5) ? `{${dup},${text.slice(1)}` : `${text.slice(0, -1)},${dup}}`;
}

function deep(r: Rng, frame: Record<string, unknown>): string {
  const depth = r.pick([
    FRAME_DEPTH_MAX - 2,
    FRAME_DEPTH_MAX - 1,
    FRAME_DEPTH_MAX,
    FRAME_DEPTH_MAX + 1,
    100,
    5000,
  ]);
  const inner = nest(r, depth, r.pick(["1", '"x"', "{}", "[]", "null"]));
  if (r.chance(0.3)) return inner; // a bare nested value
  const text = JSON.stringify(frame);
  return text.replace(/"payload":\{/, `"payload":{"deep":${inner},`);
}

function garbage(r: Rng): string {
  switch (r.int(6)) {
    case 0:
      return r.pick([
        "",
        " ",
        "null",
        "true",
        "0",
        "[]",
        "{}",
        '""',
        "[{}]",
        '{"type":null}',
        "{",
        "}",
      ]);
    case 1:
      return randomString(r, r.int(200));
    case 2:
      return b64(r, r.int(300));
    case 3:
      return '{"type":"CTRL_CLOSE"' + r.pick(["}", ',"from":1}', ',"ts":"x"}', ',"payload":7}']);
    case 4:
      return JSON.stringify(randomString(r, r.int(50)));
    default:
      return "\ud800\udc00\ud800" + randomString(r, 10);
  }
}
