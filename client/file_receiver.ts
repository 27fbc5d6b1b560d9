/**
 * Where the terminal client puts a received file once the user accepted it: the downloads folder,
 * under a sanitised name that replaces nothing already there. The transfer itself (decrypting,
 * assembling and checking chunks) is the client core's (client/core/files.ts).
 * @module
 */
import { writeFileAtomic } from "../lib/write_file.ts";
import { uniquePath } from "./file_name.ts";

/** Saves `data` as `name` in `downloads`; returns the path written. */
export async function saveDownload(
  downloads: string,
  name: string,
  data: Uint8Array,
): Promise<string> {
  await Deno.mkdir(downloads, { recursive: true });
  const path = await uniquePath(downloads, name);
  // A partial file is never seen under the real name, and nothing already there is replaced.
  await writeFileAtomic(path, data, { mode: 0o600, createNew: true });
  return path;
}
