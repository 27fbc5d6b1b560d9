/**
 * Reading a file the terminal user wants to send; the sending itself is the client core's
 * (client/core/files.ts).
 * @module
 */
import { FILE_BYTES_MAX } from "../protocol/limits.ts";

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
