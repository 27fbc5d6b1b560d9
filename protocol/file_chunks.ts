/**
 * Putting a received file back together (§3.8), shared by the terminal and browser clients: the
 * chunks are kept by index as they arrive in any order, and only at FILE_END is the file whole or
 * not. Pure: the callers hash the result and say what failed in their own way.
 * @module
 */

/** At most this many missing indexes are named in a failure. */
const MISSING_NAMED_MAX = 20;

/** The file from `chunks` (index → plaintext), or why it is incomplete. */
export function assembleChunks(
  chunks: ReadonlyMap<number, Uint8Array>,
  size: number,
): { data: Uint8Array<ArrayBuffer> } | { failure: string } {
  const last = chunks.size === 0 ? -1 : Math.max(...chunks.keys());
  const missing: number[] = [];
  for (let i = 0; i <= last && missing.length < MISSING_NAMED_MAX; i++) {
    if (!chunks.has(i)) missing.push(i);
  }
  if (missing.length > 0) return { failure: `incomplete: missing chunk(s) ${missing.join(", ")}` };
  let bytes = 0;
  for (const chunk of chunks.values()) bytes += chunk.length;
  if (bytes !== size) return { failure: `incomplete: got ${bytes} of ${size} bytes` };
  const data = new Uint8Array(size);
  let offset = 0;
  for (let i = 0; i < chunks.size; i++) {
    const chunk = chunks.get(i)!;
    data.set(chunk, offset);
    offset += chunk.length;
  }
  return { data };
}
