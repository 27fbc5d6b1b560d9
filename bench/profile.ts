/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self time per function, so a
 * benchmark miss can be explained by where the server's main thread spent its time. The
 * profile covers the JS thread only; RSA private-key operations run on Deno's blocking pool and
 * show up in the /proc thread accounting instead (`proc.ts`).
 * @module
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One line of a profile summary. */
export interface ProfileEntry {
  fn: string;
  self_ms: number;
  self_pct: number;
}

/** Self time per function (by name and location), largest first. */
export function summarizeProfile(profile: CpuProfile, top = 20): {
  total_ms: number;
  entries: ProfileEntry[];
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (node === undefined) continue;
    total += dt;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(main|node_modules|ext)\//, "$1/").replace(/^file:\/\//, "");
    const key = url ? `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}` : functionName;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const entries = [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, ms]) => ({
    fn,
    self_ms: Math.round(ms),
    self_pct: Math.round((ms / total) * 1000) / 10,
  }));
  return { total_ms: Math.round(total), entries };
}

/** Summarises every `.cpuprofile` in `dir`. */
export async function summarizeProfiles(
  dir: string,
  top = 20,
): Promise<{ file: string; total_ms: number; entries: ProfileEntry[] }[]> {
  const out = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`)) as CpuProfile;
    out.push({ file: `${dir}/${entry.name}`, ...summarizeProfile(profile, top) });
  }
  return out;
}
