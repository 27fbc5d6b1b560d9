/**
 * Sending a file (§3.8, §15 P12): a FILE_START manifest whose content_sig binds name, size and
 * sha256 to the sender, then ≤ 446-byte slices each encrypted as one RSA-OAEP block for the
 * recipient, then FILE_END. Every window of chunks waits for a round trip to the server, so a
 * large file never floods the server's queues.
 * @module
 */
import { basename } from "node:path";
import { sha256Hex } from "../crypto/hash.ts";
import { signManifest } from "../crypto/signing.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import type { Clock, Random } from "../lib/world.ts";
import { b64uEncode } from "../protocol/base64url.ts";
import { FILE_BYTES_MAX, FILE_CHUNK_BYTES, FILE_WINDOW_CHUNKS } from "../protocol/limits.ts";
import { type Progress, ProgressMeter } from "./progress.ts";
import type { Contact } from "./contact.ts";

/** What sending needs from the session. */
export interface SenderContext {
  backend: RsaBackend;
  key: PrivateKey;
  user_id: string;
  clock: Clock;
  random: Random;
  /** Sends a frame from us; `sign` adds a transport signature. */
  send: (
    type: string,
    to: string,
    payload: Record<string, unknown>,
    ts: number,
    sign: boolean,
  ) => Promise<void>;
  /** Resolves once the server has handled everything sent so far. */
  sync: () => Promise<void>;
  nextTs: () => number;
  progress: (p: Progress) => void;
}

/** Reads a file for sending, refusing what no receiver would accept. */
export async function readOutgoing(path: string): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new Error(`Cannot send "${path}": ${(e as Error).message}`);
  }
  if (!info.isFile) throw new Error(`Cannot send "${path}": not a regular file`);
  if (info.size > FILE_BYTES_MAX) {
    throw new Error(
      `Cannot send "${path}": ${info.size} bytes is over the ${FILE_BYTES_MAX}-byte limit`,
    );
  }
  return await Deno.readFile(path);
}

/** Sends `data` as file `name` to each recipient in turn. Returns the file id. */
export async function sendFile(
  ctx: SenderContext,
  recipients: Contact[],
  name: string,
  data: Uint8Array,
  mode: "dm" | "public",
): Promise<string> {
  const file_id = ctx.random.uuid();
  const sha256 = sha256Hex(data);
  const chunks = Math.ceil(data.length / FILE_CHUNK_BYTES);
  const total = data.length * recipients.length;
  const meter = new ProgressMeter(
    { file_id, name: basename(name), direction: "send", total },
    () => ctx.clock.now(),
    ctx.progress,
  );
  let done = 0;
  for (const to of recipients) {
    const ts = ctx.nextTs();
    const manifest = { file_id, name: basename(name), size: data.length, sha256, mode };
    const content_sig = await signManifest(ctx.backend, ctx.key, {
      ...manifest,
      from: ctx.user_id,
      to: to.user_id,
      ts,
    });
    await ctx.send(
      "FILE_START",
      to.user_id,
      { ...manifest, sender_pub: ctx.key.publicKey.spki, content_sig },
      ts,
      false,
    );
    for (let index = 0; index < chunks; index++) {
      const slice = data.subarray(index * FILE_CHUNK_BYTES, (index + 1) * FILE_CHUNK_BYTES);
      const ciphertext = b64uEncode(await ctx.backend.encrypt(to.key, slice));
      // Chunks carry no signature of their own: the signed manifest's sha256 covers them all.
      await ctx.send("FILE_CHUNK", to.user_id, { file_id, index, ciphertext }, ctx.nextTs(), false);
      done += slice.length;
      meter.update(done);
      if ((index + 1) % FILE_WINDOW_CHUNKS === 0) await ctx.sync();
    }
    await ctx.send("FILE_END", to.user_id, { file_id }, ctx.nextTs(), false);
  }
  meter.update(total);
  await ctx.sync();
  return file_id;
}
