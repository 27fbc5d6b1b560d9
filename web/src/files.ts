/**
 * File transfer in the browser (§3.8, §15 P12), following client/file_sender.ts and
 * client/file_receiver.ts: a signed FILE_START manifest (name, size, sha256), ≤ 446-byte slices
 * each one RSA-OAEP block, FILE_END; a LIST round trip every 64 chunks keeps the server's queues
 * short. The receiver decrypts chunks as they come, keeps them by index, and only once FILE_END
 * arrives and size and SHA-256 match does it hand out the bytes.
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
import { decrypt, encrypt, type KeyPair, type PublicKey, sha256Hex } from "./rsa.ts";
import { signManifest, verifyManifest } from "./signing.ts";
import { type Frame, int, str } from "../../client/core/wire.ts";

/** What the file code reports. */
export type FileEvent =
  | {
    kind: "file_offer";
    file_id: string;
    from: string;
    name: string;
    size: number;
    signed: boolean;
    mode: string;
  }
  | { kind: "file_progress"; file_id: string; from: string; done: number; total: number }
  | {
    kind: "file_received";
    file_id: string;
    from: string;
    name: string;
    size: number;
    sha256: string;
    signed: boolean;
    data: Uint8Array<ArrayBuffer>;
  }
  | { kind: "file_failed"; file_id: string; from: string; name: string; reason: string };

interface Transfer {
  from: string;
  file_id: string;
  name: string;
  size: number;
  sha256: string;
  signed: boolean;
  chunks: Map<number, Uint8Array<ArrayBuffer>>;
  pending: Set<Promise<void>>;
  bytes: number;
  failure?: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** Incoming transfers of one session. */
export class FileReceiver {
  #transfers = new Map<string, Transfer>();

  constructor(
    private readonly ctx: {
      pair: () => KeyPair;
      keyOf: (user: string) => PublicKey | undefined;
      emit: (event: FileEvent) => void;
    },
  ) {}

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
    if (this.#transfers.has(id)) return;
    if (size > FILE_BYTES_MAX) {
      return this.ctx.emit({
        kind: "file_failed",
        file_id,
        from: frame.from,
        name,
        reason: `refused: ${size} bytes is over the ${FILE_BYTES_MAX}-byte limit`,
      });
    }
    const key = this.ctx.keyOf(frame.from);
    const signed = key !== undefined && await verifyManifest(key, {
      file_id,
      name,
      size,
      sha256: hash,
      mode,
      from: frame.from,
      to: frame.to,
      ts: frame.ts,
    }, p.content_sig);
    const t: Transfer = {
      from: frame.from,
      file_id,
      name,
      size,
      sha256: hash,
      signed,
      chunks: new Map(),
      pending: new Set(),
      bytes: 0,
    };
    this.#transfers.set(id, t);
    this.ctx.emit({ kind: "file_offer", file_id, from: frame.from, name, size, signed, mode });
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
    const work = (async () => {
      const plain = ct && await decrypt(this.ctx.pair(), ct);
      if (!plain || plain.length > OAEP_PLAINTEXT_BYTES_MAX) {
        t.failure ??= `chunk ${index} could not be decrypted: corrupted or not for us`;
        return;
      }
      const before = t.chunks.get(index);
      if (before) {
        if (await sha256Hex(before) !== await sha256Hex(plain)) {
          t.failure ??= `chunk ${index} arrived twice with different contents`;
        }
        return;
      }
      t.chunks.set(index, plain);
      t.bytes += plain.length;
      if (t.bytes > t.size) t.failure ??= `received more than the announced ${t.size} bytes`;
      this.ctx.emit({
        kind: "file_progress",
        file_id: t.file_id,
        from: t.from,
        done: Math.min(t.bytes, t.size),
        total: t.size,
      });
    })();
    t.pending.add(work);
    void work.finally(() => t.pending.delete(work));
  }

  /** FILE_END: check completeness, size and SHA-256; only then hand out the bytes. */
  async end(frame: Frame): Promise<void> {
    const id = `${frame.from}/${str(frame.payload, "file_id", 256)}`;
    const t = this.#transfers.get(id);
    if (!t) return;
    while (t.pending.size > 0) await Promise.all([...t.pending]);
    this.#drop(id, t);
    const fail = (reason: string) =>
      this.ctx.emit({
        kind: "file_failed",
        file_id: t.file_id,
        from: t.from,
        name: t.name,
        reason,
      });
    if (t.failure) return fail(t.failure);
    const whole = assembleChunks(t.chunks, t.size);
    if ("failure" in whole) return fail(whole.failure);
    const { data } = whole;
    const hash = await sha256Hex(data);
    if (hash !== t.sha256) {
      return fail(`SHA-256 mismatch: got ${hash}, the sender announced ${t.sha256}`);
    }
    this.ctx.emit({
      kind: "file_received",
      file_id: t.file_id,
      from: t.from,
      name: t.name,
      size: t.size,
      sha256: hash,
      signed: t.signed,
      data,
    });
  }

  /** Forgets every transfer (the connection is gone: they cannot complete). */
  abort(reason: string): void {
    for (const [id, t] of this.#transfers) {
      this.#drop(id, t);
      this.ctx.emit({
        kind: "file_failed",
        file_id: t.file_id,
        from: t.from,
        name: t.name,
        reason,
      });
    }
  }

  #arm(id: string, t: Transfer): void {
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      if (this.#transfers.get(id) !== t) return;
      this.#drop(id, t);
      this.ctx.emit({
        kind: "file_failed",
        file_id: t.file_id,
        from: t.from,
        name: t.name,
        reason: `stalled: no chunk for ${FILE_STALL_MS / 1000} s`,
      });
    }, FILE_STALL_MS);
  }

  #drop(id: string, t: Transfer): void {
    clearTimeout(t.timer);
    this.#transfers.delete(id);
  }
}

/** What sending needs from the session. */
export interface SendContext {
  pair: KeyPair;
  user_id: string;
  /** Sends a frame from us (unsigned: content frames carry content signatures instead). */
  send: (type: string, to: string, payload: Record<string, unknown>, ts: number) => void;
  /** Resolves once the server has handled everything sent so far. */
  sync: () => Promise<void>;
  nextTs: () => number;
  progress: (done: number, total: number) => void;
}

/** Sends `data` as file `name` to each recipient in turn; returns the file id. */
export async function sendFile(
  ctx: SendContext,
  recipients: { user_id: string; key: PublicKey }[],
  name: string,
  data: Uint8Array,
  mode: "dm" | "public",
): Promise<string> {
  if (data.length > FILE_BYTES_MAX) {
    throw new RangeError(`${data.length} bytes is over the ${FILE_BYTES_MAX}-byte limit`);
  }
  const file_id = crypto.randomUUID();
  const sha256 = await sha256Hex(data);
  const chunks = Math.ceil(data.length / FILE_CHUNK_BYTES);
  const total = data.length * recipients.length;
  let done = 0;
  for (const to of recipients) {
    const ts = ctx.nextTs();
    const manifest = { file_id, name, size: data.length, sha256, mode };
    const content_sig = await signManifest(ctx.pair, {
      ...manifest,
      from: ctx.user_id,
      to: to.user_id,
      ts,
    });
    ctx.send(
      "FILE_START",
      to.user_id,
      { ...manifest, sender_pub: ctx.pair.publicKey.spki, content_sig },
      ts,
    );
    for (let index = 0; index < chunks; index++) {
      const slice = data.subarray(index * FILE_CHUNK_BYTES, (index + 1) * FILE_CHUNK_BYTES);
      const ciphertext = b64uEncode(await encrypt(to.key, slice));
      ctx.send("FILE_CHUNK", to.user_id, { file_id, index, ciphertext }, ctx.nextTs());
      done += slice.length;
      ctx.progress(done, total);
      if ((index + 1) % FILE_WINDOW_CHUNKS === 0) await ctx.sync();
    }
    ctx.send("FILE_END", to.user_id, { file_id }, ctx.nextTs());
  }
  ctx.progress(total, total);
  await ctx.sync();
  return file_id;
}
