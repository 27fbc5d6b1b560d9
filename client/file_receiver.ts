/**
 * Receiving files (§3.8, §15 P12): chunks are decrypted as they come, kept by index
 * (duplicates and reordering are harmless), and at FILE_END the whole is checked against the
 * manifest's size and sha256. Only a complete, verified file is written, into the downloads
 * folder under a sanitised, unused name. A missing or undecryptable chunk, a stall or an
 * oversized manifest gives a clear error and no file.
 * @module
 */
import { sha256Hex } from "../crypto/hash.ts";
import { verifyManifest } from "../crypto/signing.ts";
import type { PrivateKey, PublicKey, RsaBackend } from "../crypto/types.ts";
import type { Clock } from "../lib/world.ts";
import { b64uDecode, type FrameOf } from "../protocol/mod.ts";
import { assembleChunks } from "../protocol/file_chunks.ts";
import { FILE_BYTES_MAX, FILE_STALL_MS, OAEP_PLAINTEXT_BYTES_MAX } from "../protocol/limits.ts";
import { writeFileAtomic } from "../lib/write_file.ts";
import { uniquePath } from "./file_name.ts";
import { type Progress, ProgressMeter } from "./progress.ts";

/** What the receiver reports. */
export type FileEvent =
  | {
    event: "file_offer";
    file_id: string;
    from: string;
    name: string;
    size: number;
    verified: boolean;
  }
  | {
    event: "file_saved";
    file_id: string;
    from: string;
    name: string;
    path: string;
    size: number;
    sha256: string;
    verified: boolean;
  }
  | { event: "file_failed"; file_id: string; from: string; name: string; reason: string }
  | ({ event: "progress" } & Progress);

interface Transfer {
  from: string;
  manifest: FrameOf<"FILE_START">["payload"];
  verified: boolean;
  chunks: Map<number, Uint8Array>;
  pending: Set<Promise<void>>;
  bytes: number;
  failure?: string;
  lastAt: number;
  meter: ProgressMeter;
}

/** What the receiver needs from its session. */
export interface ReceiverContext {
  backend: RsaBackend;
  key: PrivateKey;
  clock: Clock;
  downloads: string;
  /** The key we know for a user, if any. */
  keyOf: (user: string) => Promise<PublicKey | undefined>;
  emit: (event: FileEvent) => void;
}

/** Incoming transfers of one client. */
export class FileReceiver {
  #transfers = new Map<string, Transfer>();

  constructor(private readonly ctx: ReceiverContext) {}

  /** A manifest: start a transfer (refused if too big or a duplicate id). */
  async start(frame: FrameOf<"FILE_START">): Promise<void> {
    const m = frame.payload;
    const id = `${frame.from}/${m.file_id}`;
    if (this.#transfers.has(id)) return;
    const fail = (reason: string) =>
      this.ctx.emit({
        event: "file_failed",
        file_id: m.file_id,
        from: frame.from,
        name: m.name,
        reason,
      });
    if (m.size > FILE_BYTES_MAX) {
      return fail(`refused: ${m.size} bytes is over the ${FILE_BYTES_MAX}-byte limit`);
    }
    let verified = false;
    const sig = (m as Record<string, unknown>).content_sig;
    const sender = await this.ctx.keyOf(frame.from);
    if (typeof sig === "string" && sender) {
      verified = await verifyManifest(this.ctx.backend, sender, {
        file_id: m.file_id,
        name: m.name,
        size: m.size,
        sha256: m.sha256.toLowerCase(),
        mode: m.mode,
        from: frame.from,
        to: frame.to,
        ts: frame.ts,
      }, sig);
    }
    const meter = new ProgressMeter(
      { file_id: m.file_id, name: m.name, direction: "receive", total: m.size },
      () => this.ctx.clock.now(),
      (p) => this.ctx.emit({ event: "progress", ...p }),
    );
    this.#transfers.set(id, {
      from: frame.from,
      manifest: m,
      verified,
      chunks: new Map(),
      pending: new Set(),
      bytes: 0,
      lastAt: this.ctx.clock.now(),
      meter,
    });
    this.ctx.emit({
      event: "file_offer",
      file_id: m.file_id,
      from: frame.from,
      name: m.name,
      size: m.size,
      verified,
    });
    this.#watch(id);
  }

  /** A chunk: decrypted in the background; the order of arrival does not matter. */
  chunk(frame: FrameOf<"FILE_CHUNK">): void {
    const t = this.#transfers.get(`${frame.from}/${frame.payload.file_id}`);
    if (!t || t.failure) return;
    t.lastAt = this.ctx.clock.now();
    const index = frame.payload.index;
    const work = (async () => {
      const ct = b64uDecode(frame.payload.ciphertext);
      const plain = ct && (await this.ctx.backend.decrypt(this.ctx.key, ct));
      if (!plain || plain.length > OAEP_PLAINTEXT_BYTES_MAX) {
        t.failure ??= `chunk ${index} could not be decrypted: corrupted or not for us`;
        return;
      }
      const before = t.chunks.get(index);
      if (before) {
        // A duplicate is harmless; a different copy of the same index is not.
        if (sha256Hex(before) !== sha256Hex(plain)) {
          t.failure ??= `chunk ${index} arrived twice with different contents`;
        }
        return;
      }
      t.chunks.set(index, plain);
      t.bytes += plain.length;
      t.meter.update(Math.min(t.bytes, t.manifest.size));
      if (t.bytes > t.manifest.size) {
        t.failure ??= `received more than the announced ${t.manifest.size} bytes`;
      }
    })();
    t.pending.add(work);
    void work.finally(() => t.pending.delete(work));
  }

  /** The end: check completeness, size and hash, then save. */
  async end(frame: FrameOf<"FILE_END">): Promise<void> {
    const id = `${frame.from}/${frame.payload.file_id}`;
    const t = this.#transfers.get(id);
    if (!t) return;
    while (t.pending.size > 0) await Promise.all([...t.pending]);
    this.#transfers.delete(id);
    const m = t.manifest;
    const fail = (reason: string) =>
      this.ctx.emit({
        event: "file_failed",
        file_id: m.file_id,
        from: t.from,
        name: m.name,
        reason,
      });
    if (t.failure) return fail(t.failure);
    const whole = assembleChunks(t.chunks, m.size);
    if ("failure" in whole) return fail(whole.failure);
    const { data } = whole;
    const hash = sha256Hex(data);
    if (hash !== m.sha256.toLowerCase()) {
      return fail(`sha256 mismatch: got ${hash}, manifest says ${m.sha256}`);
    }
    await Deno.mkdir(this.ctx.downloads, { recursive: true });
    const path = await uniquePath(this.ctx.downloads, m.name);
    // A partial file is never seen under the real name, and nothing already there is replaced.
    await writeFileAtomic(path, data, { mode: 0o600, createNew: true });
    this.ctx.emit({
      event: "file_saved",
      file_id: m.file_id,
      from: t.from,
      name: m.name,
      path,
      size: m.size,
      sha256: hash,
      verified: t.verified,
    });
  }

  /** Transfers in progress. */
  get active(): number {
    return this.#transfers.size;
  }

  /** Drops a transfer that stopped receiving chunks. */
  #watch(id: string): void {
    const check = () => {
      const t = this.#transfers.get(id);
      if (!t) return;
      const idle = this.ctx.clock.now() - t.lastAt;
      if (idle >= FILE_STALL_MS) {
        this.#transfers.delete(id);
        this.ctx.emit({
          event: "file_failed",
          file_id: t.manifest.file_id,
          from: t.from,
          name: t.manifest.name,
          reason: `stalled: no chunk for ${Math.round(idle / 1000)} s`,
        });
        return;
      }
      this.ctx.clock.setTimeout(check, FILE_STALL_MS - idle);
    };
    this.ctx.clock.setTimeout(check, FILE_STALL_MS);
  }
}
