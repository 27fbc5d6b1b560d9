/**
 * Where a received file may be saved: a sanitised name inside the downloads folder, never
 * outside it and never over an existing file.
 * @module
 */
import { join } from "node:path";

/** Reduces an untrusted file name to a safe base name (no folders, no control characters). */
export function sanitizeFileName(name: string): string {
  const base = name.replace(/\\/g, "/").split("/").pop() ?? "";
  // deno-lint-ignore no-control-regex
  let clean = base.replace(/[\x00-\x1f\x7f<>:"|?*]/g, "_").replace(/^[.\s]+/, "").trim();
  if (clean.length > 120) {
    const dot = clean.lastIndexOf(".");
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : "";
    clean = clean.slice(0, 120 - ext.length) + ext;
  }
  return clean === "" ? "file" : clean;
}

/** A path in `dir` for `name` that does not exist yet: "a.txt", "a (1).txt", "a (2).txt", ... */
export async function uniquePath(dir: string, name: string): Promise<string> {
  const safe = sanitizeFileName(name);
  const dot = safe.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [safe.slice(0, dot), safe.slice(dot)] : [safe, ""];
  for (let n = 0; n < 10_000; n++) {
    const candidate = join(dir, n === 0 ? safe : `${stem} (${n})${ext}`);
    try {
      await Deno.lstat(candidate);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return candidate;
      throw e;
    }
  }
  throw new Error(`Cannot save "${safe}": too many files with that name in ${dir}`);
}
