/**
 * Counters for `GET /metrics` (Prometheus text format 0.0.4, written by hand): frames received
 * and sent by type, dropped inputs by reason, Router inputs by kind and verdict, and RSA
 * operations with a latency histogram ({@linkcode metered}). Gauges (mailbox and outbox depth,
 * links, users) are read from the live server when scraped (`status.ts`).
 *
 * Memory is bounded: every label set is capped ({@linkcode LabelledCounter}), frame types are
 * the protocol's names or `other`/`unparsed`, and a drop reason is bucketed by its leading error
 * code or its first plain words, never by ids or free text.
 * @module
 */
import type { PrivateKey, PublicKey, RsaBackend } from "../../crypto/types.ts";
import { isFrameType } from "../../protocol/frames.ts";
import type { JournalRow } from "../../store/store.ts";
import type { FrameSocket } from "../links/outbox.ts";
import { type Clock, systemClock } from "../../lib/world.ts";

/** Distinct label values a counter keeps; the rest are counted under `other`. */
export const LABEL_VALUES_MAX = 64;
/** Distinct drop-reason buckets kept; the rest are counted under `other`. */
export const DROP_REASONS_MAX = 32;
/** Upper bounds (seconds) of the crypto latency histogram's buckets. */
export const LATENCY_BUCKETS_S = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
] as const;

/** A counter per label value, with at most `max` values (then `other`). */
export class LabelledCounter {
  readonly #values = new Map<string, number>();

  constructor(readonly max = LABEL_VALUES_MAX) {}

  /** Adds `n` to `label` (or to `other` once `max` labels exist). */
  add(label: string, n = 1): void {
    const key = this.#values.has(label) || this.#values.size < this.max ? label : "other";
    this.#values.set(key, (this.#values.get(key) ?? 0) + n);
  }

  /** The count of one label (0 if never seen). */
  get(label: string): number {
    return this.#values.get(label) ?? 0;
  }

  /** Every label and its count, sorted by label. */
  entries(): [string, number][] {
    return [...this.#values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Sum over all labels. */
  total(): number {
    let sum = 0;
    for (const n of this.#values.values()) sum += n;
    return sum;
  }
}

/** A fixed-bucket histogram (cumulative on output, like Prometheus). */
export class Histogram {
  readonly counts: number[];
  count = 0;
  sum = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS_S) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const i = this.bounds.findIndex((b) => value <= b);
    if (i >= 0) this.counts[i]!++;
  }

  /** `[le, cumulative count]` pairs, ending with `+Inf`. */
  cumulative(): [string, number][] {
    let running = 0;
    const out: [string, number][] = this.bounds.map((b, i) => {
      running += this.counts[i]!;
      return [String(b), running];
    });
    out.push(["+Inf", this.count]);
    return out;
  }
}

/** The RSA operations {@linkcode metered} counts. */
export type CryptoOp = "sign" | "verify" | "encrypt" | "decrypt" | "import_public";

/** Counts and latency of one RSA operation. */
export interface CryptoStats {
  ops: number;
  /** Threw, or (verify) returned false, or (decrypt/import) returned no result. */
  failed: number;
  latency: Histogram;
}

/** The frame type named in a frame's text, without parsing it: a protocol type, `other` or `unparsed`. */
export function frameTypeOf(text: string): string {
  const match = /"type"\s*:\s*"([A-Za-z0-9_]{1,64})"/.exec(text.slice(0, 256));
  if (match === null) return "unparsed";
  return isFrameType(match[1]!) ? match[1]! : "other";
}

/**
 * A drop reason's bucket: its leading error code (`USER_NOT_FOUND: ...` → `USER_NOT_FOUND`), or
 * its first plain words up to the first that holds an id, number or punctuation
 * (`rekey to version 3 is stale` → `rekey_to_version`), at most 4 words and 48 characters.
 */
export function reasonBucket(reason: string): string {
  const code = /^([A-Z][A-Z0-9_]{2,39})(?=[:\s]|$)/.exec(reason);
  if (code !== null) return code[1]!;
  const words: string[] = [];
  for (const word of reason.split(/\s+/)) {
    if (!/^[A-Za-z][A-Za-z-]*$/.test(word) || words.length === 4) break;
    words.push(word.toLowerCase());
  }
  return words.length === 0 ? "other" : words.join("_").slice(0, 48);
}

/** The library that does the server's RSA work, as `/metrics` and `/status` show it. */
export interface CryptoLibrary {
  /** "OpenSSL" or "WebCrypto". */
  library: string;
  version: string;
  /** The file loaded. */
  path?: string;
  /** Where it came from: "system", "Debian ...", "built from Debian ...", "--libcrypto", ... */
  origin: string;
}

/** What a backend says about its library, with where the choice came from. */
export function cryptoLibraryOf(backend: RsaBackend, origin: string): CryptoLibrary {
  const info = backend.library;
  return info === undefined
    ? { library: backend.name, version: "", origin }
    : { library: info.name, version: info.version, path: info.path, origin };
}

/** Everything the server counts for `/metrics`. */
export class Metrics {
  /** When the server started, by its clock. */
  readonly started_ms: number;
  /** Set by the server once its backend is open. */
  cryptoLibrary: CryptoLibrary = { library: "unknown", version: "", origin: "" };
  readonly framesReceived = new LabelledCounter();
  readonly framesSent = new LabelledCounter();
  readonly drops = new LabelledCounter(DROP_REASONS_MAX);
  /** Router inputs (journal rows) by `kind:verdict`. */
  readonly inputs = new LabelledCounter();
  readonly crypto: Record<CryptoOp, CryptoStats> = {
    sign: stats(),
    verify: stats(),
    encrypt: stats(),
    decrypt: stats(),
    import_public: stats(),
  };

  constructor(readonly clock: Clock = systemClock) {
    this.started_ms = clock.now();
  }

  /** Seconds since the server started. */
  uptimeSeconds(): number {
    return (this.clock.now() - this.started_ms) / 1000;
  }

  /** Counts one received text message. */
  frameReceived(text: string): void {
    this.framesReceived.add(frameTypeOf(text));
  }

  /** Counts one text message handed to a socket. */
  frameSent(text: string): void {
    this.framesSent.add(frameTypeOf(text));
  }

  /** Counts one journal row: every Router input with its verdict, drops by reason. */
  journaled(row: Pick<JournalRow, "kind" | "verdict" | "reason">): void {
    this.inputs.add(`${row.kind}:${row.verdict}`);
    if (row.verdict === "dropped") this.drops.add(reasonBucket(row.reason));
  }

  /** A socket that counts what is sent through it. */
  countSent(socket: FrameSocket): FrameSocket {
    // deno-lint-ignore no-this-alias
    const metrics = this;
    return {
      send(text: string) {
        socket.send(text);
        metrics.frameSent(text);
      },
      close(code: number, reason: string) {
        socket.close(code, reason);
      },
      get bufferedAmount() {
        return socket.bufferedAmount;
      },
      ...(socket.ping ? { ping: () => socket.ping!() } : {}),
      livenessByRuntime: socket.livenessByRuntime,
    };
  }
}

function stats(): CryptoStats {
  return { ops: 0, failed: 0, latency: new Histogram() };
}

/**
 * A backend that counts `sign`, `verify`, `encrypt`, `decrypt` and `importPublic` calls and
 * their latency (as the caller sees it: for private-key operations that includes waiting for a
 * free slot of the backend's in-flight bound). Keys pass through unchanged.
 */
export function metered(backend: RsaBackend, metrics: Metrics): RsaBackend {
  const time = async <T>(
    op: CryptoOp,
    call: () => Promise<T>,
    failed: (result: T) => boolean = () => false,
  ): Promise<T> => {
    const s = metrics.crypto[op];
    const start = performance.now();
    let ok = false;
    try {
      const result = await call();
      ok = !failed(result);
      return result;
    } finally {
      s.ops++;
      if (!ok) s.failed++;
      s.latency.observe((performance.now() - start) / 1000);
    }
  };
  return {
    name: backend.name,
    library: backend.library,
    generate: () => backend.generate(),
    importPrivate: (data) => backend.importPrivate(data),
    exportPrivate: (key: PrivateKey) => backend.exportPrivate(key),
    importPublic: (text) => time("import_public", () => backend.importPublic(text), (r) => !r.ok),
    sign: (key: PrivateKey, data) => time("sign", () => backend.sign(key, data)),
    verify: (key: PublicKey, data, signature) =>
      time("verify", () => backend.verify(key, data, signature), (ok) => !ok),
    encrypt: (key: PublicKey, plaintext) => time("encrypt", () => backend.encrypt(key, plaintext)),
    decrypt: (key: PrivateKey, ciphertext) =>
      time("decrypt", () => backend.decrypt(key, ciphertext), (r) => r === undefined),
  };
}

/** Gauges read from the live server at scrape time. */
export interface Gauges {
  router_mailbox_depth: number;
  outbox_depth_sum: number;
  outbox_depth_max: number;
  links: { user: number; server: number; pending: number };
  users_online: number;
  users_remote: number;
  users_registered: number;
  servers_linked: number;
  servers_known: number;
  seen_ids: number;
  public_channel_version: number;
  resident_memory_bytes: number;
  heap_used_bytes: number;
  cpu_seconds: number;
}

/** The Prometheus text exposition of `metrics` and `gauges`. */
export function renderPrometheus(metrics: Metrics, gauges: Gauges, build: string): string {
  const out = new Exposition();
  writeInfo(out, metrics, build);
  writeCounters(out, metrics);
  writeCrypto(out, metrics);
  writeGauges(out, gauges);
  return out.text();
}

/** Lines of the text format, family by family. */
class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  line(name: string, value: number, labels: Record<string, string> = {}): void {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    this.#lines.push(`${name}${text ? `{${text}}` : ""} ${formatNumber(value)}`);
  }

  /** A counter family with one line per label value. */
  labelled(name: string, help: string, label: string, counter: LabelledCounter): void {
    this.family(name, "counter", help);
    for (const [value, n] of counter.entries()) this.line(name, n, { [label]: value });
  }

  /** A gauge family of one line. */
  gauge(name: string, help: string, value: number): void {
    this.family(name, "gauge", help);
    this.line(name, value);
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function writeInfo(out: Exposition, metrics: Metrics, build: string): void {
  out.family("socp_build_info", "gauge", "Build of this server (value is always 1).");
  out.line("socp_build_info", 1, { build });
  out.family("socp_crypto_library_info", "gauge", "The library that signs (value is always 1).");
  const lib = metrics.cryptoLibrary;
  out.line("socp_crypto_library_info", 1, {
    library: lib.library,
    version: lib.version,
    origin: lib.origin,
  });
  out.gauge("socp_uptime_seconds", "Seconds since the server started.", metrics.uptimeSeconds());
}

function writeCounters(out: Exposition, metrics: Metrics): void {
  out.labelled(
    "socp_frames_received_total",
    "WebSocket text messages received, by frame type (other: not a SOCP type; unparsed: no type).",
    "type",
    metrics.framesReceived,
  );
  out.labelled(
    "socp_frames_sent_total",
    "WebSocket text messages sent, by frame type.",
    "type",
    metrics.framesSent,
  );
  out.labelled(
    "socp_frames_dropped_total",
    "Inputs refused (by a link or the Router), by reason bucket (error code or first words).",
    "reason",
    metrics.drops,
  );
  out.family(
    "socp_router_inputs_total",
    "counter",
    "Journaled Router inputs, by kind and verdict.",
  );
  for (const [key, n] of metrics.inputs.entries()) {
    const [kind = "", verdict = ""] = key.split(":");
    out.line("socp_router_inputs_total", n, { kind, verdict });
  }
}

function writeCrypto(out: Exposition, metrics: Metrics): void {
  out.family("socp_crypto_ops_total", "counter", "RSA-4096 operations, by operation.");
  for (const [op, s] of Object.entries(metrics.crypto)) {
    out.line("socp_crypto_ops_total", s.ops, { op });
  }
  out.family(
    "socp_crypto_failures_total",
    "counter",
    "RSA operations that threw or said no (a signature that does not verify, a bad key).",
  );
  for (const [op, s] of Object.entries(metrics.crypto)) {
    out.line("socp_crypto_failures_total", s.failed, { op });
  }
  out.family(
    "socp_crypto_op_duration_seconds",
    "histogram",
    "RSA operation latency as callers see it (private-key ops include waiting for a slot).",
  );
  for (const [op, s] of Object.entries(metrics.crypto)) {
    for (const [le, n] of s.latency.cumulative()) {
      out.line("socp_crypto_op_duration_seconds_bucket", n, { op, le });
    }
    out.line("socp_crypto_op_duration_seconds_sum", s.latency.sum, { op });
    out.line("socp_crypto_op_duration_seconds_count", s.latency.count, { op });
  }
}

function writeGauges(out: Exposition, gauges: Gauges): void {
  out.gauge(
    "socp_router_mailbox_depth",
    "Inputs waiting in the Router's mailbox.",
    gauges.router_mailbox_depth,
  );
  out.gauge(
    "socp_outbox_depth_sum",
    "Frames queued in all link outboxes.",
    gauges.outbox_depth_sum,
  );
  out.gauge(
    "socp_outbox_depth_max",
    "Frames queued in the fullest link outbox.",
    gauges.outbox_depth_max,
  );
  out.family("socp_links", "gauge", "Open links by kind (pending: no hello yet).");
  for (const [kind, n] of Object.entries(gauges.links)) out.line("socp_links", n, { kind });
  out.gauge("socp_users_online", "Users connected to this server.", gauges.users_online);
  out.gauge(
    "socp_users_remote",
    "Users online on other servers, as advertised.",
    gauges.users_remote,
  );
  out.gauge(
    "socp_users_registered",
    "User ids bound to a key on this server.",
    gauges.users_registered,
  );
  out.gauge("socp_servers_linked", "Servers with a live link.", gauges.servers_linked);
  out.gauge("socp_servers_known", "Servers with a pinned key.", gauges.servers_known);
  out.gauge("socp_seen_ids", "Entries in seen_ids (replay and loop suppression).", gauges.seen_ids);
  out.gauge(
    "socp_public_channel_version",
    "Key version of the public channel.",
    gauges.public_channel_version,
  );
  writeProcess(out, gauges);
}

function writeProcess(out: Exposition, gauges: Gauges): void {
  out.gauge(
    "socp_process_resident_memory_bytes",
    "Resident set size of the server process.",
    gauges.resident_memory_bytes,
  );
  out.gauge("socp_process_heap_used_bytes", "V8 heap in use.", gauges.heap_used_bytes);
  out.family(
    "socp_process_cpu_seconds_total",
    "counter",
    "CPU time of the process (user + system).",
  );
  out.line("socp_process_cpu_seconds_total", gauges.cpu_seconds);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(9)));
}

/** Parses Prometheus text into `name{labels}` → value (for tests and the benchmarks). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}
