/**
 * File transfer (§3.8, §15 P12). Sending: a signed FILE_START manifest (name, size, sha256),
 * ≤ 446-byte slices each one RSA-OAEP block, FILE_END; a round trip to the server every window
 * of chunks keeps its queues short, and the receiver's receipt for each window's last chunk and
 * for FILE_END is the sender's progress (what the receiver has, not what left). Receiving:
 * chunks are decrypted as they come and kept by index (duplicates and reordering are harmless);
 * at FILE_END size and SHA-256 are checked, and only a complete, checked file is handed out,
 * and only once the user accepted it (or accepts every file). A missing or undecryptable chunk, a stall or an oversized manifest gives a clear
 * failure and no file. Bounded: files of at most FILE_BYTES_MAX, checked files kept for
 * acceptance at most {@linkcode FILES_WAITING_MAX}.
 * @module
 */
import { b64uDecode, b64uEncode } from "../../protocol/base64url.ts";
import { assembleChunks } from "../../protocol/file_chunks.ts";
import {
  FILE_BYTES_MAX,
  FILE_CHUNK_BYTES,
  FILE_STALL_MS,
  FILE_WINDOW_CHUNKS,
  OAEP_PLAINTEXT_BYTES_MAX,
} from "../../protocol/limits.ts";
import type { Clock, Random, TimerId } from "../../lib/world.ts";
import type { FileEvent } from "./events.ts";
import type { ClientCrypto, PublicKeyLike } from "./ports.ts";
import { type Frame, int, str } from "./wire.ts";

/** Checked files waiting for the user to accept them (the oldest is dropped first). */
export const FILES_WAITING_MAX = 16;

interface Transfer {
  from: string;
  file_id: string;
  name: string;
  size: number;
  sha256: string;
  verified: boolean;
  chunks: Map<number, Uint8Array>;
  pending: Set<Promise<void>>;
  bytes: number;
  failure?: string;
  timer?: TimerId;
}

type Ready = Extract<FileEvent, { event: "file_received" }>;

/** What the receiver needs from its session. */
export interface ReceiverContext<K extends PublicKeyLike> {
  crypto: ClientCrypto<K>;
  clock: Clock;
  keyOf: (user: string) => K | undefined;
  label: (user: string) => string;
  emit: (event: FileEvent) => void;
  /** Hand out every checked file at once instead of waiting for {@linkcode FileReceiver.accept}. */
  acceptAll: boolean;
}

/** Incoming transfers of one session. */
export class FileReceiver<K extends PublicKeyLike> {
  #transfers = new Map<string, Transfer>();
  #waiting = new Map<string, Ready>();

  constructor(private readonly ctx: ReceiverContext<K>) {}

  /** Hands out a checked file (by file id); false when no such file waits. */
  accept(file_id: string): boolean {
    const ready = [...this.#waiting.entries()].find(([, r]) => r.file_id === file_id);
    if (!ready) return false;
    this.#waiting.delete(ready[0]);
    this.ctx.emit(ready[1]);
    return true;
  }

  /** Ids of checked files waiting to be accepted. */
  waiting(): string[] {
    return [...this.#waiting.values()].map((r) => r.file_id);
  }

  /** FILE_START: a manifest. Refused when too large, malformed, or a duplicate id. */
  async start(frame: Frame): Promise<void> {
    const p = frame.payload;
    const file_id = str(p, "file_id", 256);
    const name = str(p, "name", 255);
    const size = int(p, "size");
    const hash = str(p, "sha256", 64)?.toLowerCase();
    const mode = str(p, "mode", 16) ?? "dm";
    if (!file_id || !name || size === undefined || !hash || !/^[0-9a-f]{64}$/.test(hash)) return;
    const id = `${frame.from}/${file_id}`;
    if (this.#transfers.has(id) || this.#waiting.has(id)) return;
    if (size > FILE_BYTES_MAX) {
      return this.#fail(
        { from: frame.from, file_id, name },
        `refused: ${size} bytes is over the ${FILE_BYTES_MAX}-byte limit`,
      );
    }
    const key = this.ctx.keyOf(frame.from);
    const manifest = {
      file_id,
      name,
      size,
      sha256: hash,
      mode,
      from: frame.from,
      to: frame.to,
      ts: frame.ts,
    };
    const verified = key !== undefined &&
      await this.ctx.crypto.verifyManifest(key, manifest, p.content_sig);
    const t: Transfer = {
      from: frame.from,
      file_id,
      name,
      size,
      sha256: hash,
      verified,
      chunks: new Map(),
      pending: new Set(),
      bytes: 0,
    };
    this.#transfers.set(id, t);
    const label = this.ctx.label(frame.from);
    this.ctx.emit({
      event: "file_offer",
      file_id,
      from: frame.from,
      label,
      name,
      size,
      verified,
      mode,
      ts: this.ctx.clock.now(),
    });
    this.#arm(id, t);
  }

  /** FILE_CHUNK: decrypted in the background, in any order. */
  chunk(frame: Frame): void {
    const file_id = str(frame.payload, "file_id", 256);
    const index = int(frame.payload, "index");
    const ct = b64uDecode(str(frame.payload, "ciphertext", 2048) ?? "!");
    const id = `${frame.from}/${file_id}`;
    const t = this.#transfers.get(id);
    if (!t || t.failure || index === undefined) return;
    this.#arm(id, t);
    const work = this.#decrypt(t, index, ct);
    t.pending.add(work);
    void work.finally(() => t.pending.delete(work));
  }

  async #decrypt(t: Transfer, index: number, ct: Uint8Array | undefined): Promise<void> {
    const plain = ct && await this.ctx.crypto.decrypt(ct);
    if (!plain || plain.length > OAEP_PLAINTEXT_BYTES_MAX) {
      t.failure ??= `chunk ${index} could not be decrypted: corrupted or not for us`;
      return;
    }
    const before = t.chunks.get(index);
    if (before) {
      const [a, b] = await Promise.all([
        this.ctx.crypto.sha256Hex(before),
        this.ctx.crypto.sha256Hex(plain),
      ]);
      if (a !== b) t.failure ??= `chunk ${index} arrived twice with different contents`;
      return;
    }
    t.chunks.set(index, plain);
    t.bytes += plain.length;
    if (t.bytes > t.size) t.failure ??= `received more than the announced ${t.size} bytes`;
    this.ctx.emit({
      event: "file_progress",
      file_id: t.file_id,
      peer: t.from,
      name: t.name,
      direction: "receive",
      done: Math.min(t.bytes, t.size),
      total: t.size,
    });
  }

  /** FILE_END: check completeness, size and SHA-256; only then offer the bytes. */
  async end(frame: Frame): Promise<void> {
    const id = `${frame.from}/${str(frame.payload, "file_id", 256)}`;
    const t = this.#transfers.get(id);
    if (!t) return;
    while (t.pending.size > 0) await Promise.all([...t.pending]);
    this.#drop(id, t);
    if (t.failure) return this.#fail(t, t.failure);
    const whole = assembleChunks(t.chunks, t.size);
    if ("failure" in whole) return this.#fail(t, whole.failure);
    const hash = await this.ctx.crypto.sha256Hex(whole.data);
    if (hash !== t.sha256) {
      return this.#fail(t, `sha256 mismatch: got ${hash}, manifest says ${t.sha256}`);
    }
    const { file_id, from, name, size, verified } = t;
    const ready: Ready = {
      event: "file_received",
      file_id,
      from,
      label: this.ctx.label(from),
      name,
      size,
      sha256: hash,
      verified,
      data: whole.data,
    };
    if (this.ctx.acceptAll) return this.ctx.emit(ready);
    this.#waiting.set(id, ready);
    while (this.#waiting.size > FILES_WAITING_MAX) {
      this.#waiting.delete(this.#waiting.keys().next().value!);
    }
    const { data: _, ...offer } = ready;
    this.ctx.emit({ ...offer, event: "file_ready" });
  }

  /** Forgets every transfer in flight (the connection is gone: they cannot complete). */
  abort(reason: string): void {
    for (const [id, t] of this.#transfers) {
      this.#drop(id, t);
      this.#fail(t, reason);
    }
  }

  #fail(t: Pick<Transfer, "file_id" | "from" | "name">, reason: string): void {
    const { file_id, from, name } = t;
    this.ctx.emit({ event: "file_failed", file_id, from, name, reason, ts: this.ctx.clock.now() });
  }

  #arm(id: string, t: Transfer): void {
    if (t.timer !== undefined) this.ctx.clock.clearTimeout(t.timer);
    t.timer = this.ctx.clock.setTimeout(() => {
      if (this.#transfers.get(id) !== t) return;
      this.#drop(id, t);
      this.#fail(t, `stalled: no chunk for ${FILE_STALL_MS / 1000} s`);
    }, FILE_STALL_MS);
  }

  #drop(id: string, t: Transfer): void {
    if (t.timer !== undefined) this.ctx.clock.clearTimeout(t.timer);
    this.#transfers.delete(id);
  }
}

/** Whether chunk `index` is the last of a window: the receiver asks a receipt for it. */
export function endsWindow(index: number): boolean {
  return (index + 1) % FILE_WINDOW_CHUNKS === 0;
}

/** What sending needs from the session. */
export interface SendContext<K extends PublicKeyLike> {
  crypto: ClientCrypto<K>;
  random: Random;
  user_id: string;
  /** Sends a frame from us (unsigned: content frames carry content signatures instead). */
  send: (type: string, to: string, payload: Record<string, unknown>, ts: number) => void;
  /** Resolves once the server has handled everything sent so far. */
  sync: () => Promise<void>;
  nextTs: () => number;
  /** Bytes our server has taken so far (for a caller's own "sending" bar). */
  taken?: (done: number, total: number) => void;
  /**
   * The frame sent to `to` at `ts` ends a window (or the file): a receipt for it means the
   * receiver has `done` of the `total` bytes, and that is the progress to show.
   */
  mark: (mark: ReceiptMark) => void;
}

/** What a receipt for one of our file frames says about the transfer's progress. */
export interface ReceiptMark {
  to: string;
  ts: number;
  file_id: string;
  name: string;
  done: number;
  total: number;
}

/** Sends `data` as file `name` to each recipient in turn; returns the file id. */
export async function sendFile<K extends PublicKeyLike>(
  ctx: SendContext<K>,
  recipients: { user_id: string; key: K }[],
  name: string,
  data: Uint8Array,
  mode: "dm" | "public",
): Promise<string> {
  if (data.length > FILE_BYTES_MAX) {
    throw new RangeError(`${data.length} bytes is over the ${FILE_BYTES_MAX}-byte limit`);
  }
  const file_id = ctx.random.uuid();
  const sha256 = await ctx.crypto.sha256Hex(data);
  const chunks = Math.ceil(data.length / FILE_CHUNK_BYTES);
  const total = data.length * recipients.length;
  const mark = (to: string, ts: number, done: number) =>
    ctx.mark({ to, ts, file_id, name, done, total });
  let done = 0;
  for (const to of recipients) {
    const ts = ctx.nextTs();
    const manifest = { file_id, name, size: data.length, sha256, mode };
    const content_sig = await ctx.crypto.signManifest({
      ...manifest,
      from: ctx.user_id,
      to: to.user_id,
      ts,
    });
    ctx.send(
      "FILE_START",
      to.user_id,
      { ...manifest, sender_pub: ctx.crypto.spki, content_sig },
      ts,
    );
    for (let index = 0; index < chunks; index++) {
      const slice = data.subarray(index * FILE_CHUNK_BYTES, (index + 1) * FILE_CHUNK_BYTES);
      const ciphertext = b64uEncode(await ctx.crypto.encrypt(to.key, slice));
      const ts = ctx.nextTs();
      // Chunks carry no signature of their own: the signed manifest's sha256 covers them all.
      ctx.send("FILE_CHUNK", to.user_id, { file_id, index, ciphertext }, ts);
      done += slice.length;
      if (endsWindow(index)) {
        mark(to.user_id, ts, done);
        await ctx.sync();
        ctx.taken?.(done, total);
      }
    }
    const end = ctx.nextTs();
    mark(to.user_id, end, done);
    ctx.send("FILE_END", to.user_id, { file_id }, end);
  }
  await ctx.sync();
  ctx.taken?.(total, total);
  return file_id;
}
