/**
 * `deno task imports`: fails on an import cycle (type imports included) or on an import against
 * the direction of the rooms: protocol ← crypto / store ← router ← links ← ops ← server ←
 * main.ts. Ops (metrics, status, replay) reads router and link state, and a client's trace; the
 * server composes it and serves its pages. The clients (client/, web/src/) use only protocol,
 * crypto and lib. Code lives in a room: only a mod.ts may sit directly in actors/. The module
 * graph comes from `deno info --json` over every .ts file.
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl, pathToFileURL as toFileUrl } from "node:url";

const ROOT = fromFileUrl(new URL("../", import.meta.url));

const BASE = ["lib", "protocol"];
const CORE = [...BASE, "crypto", "store"];
/** What each product room may import besides itself; rooms not listed are not restricted. */
const MAY_IMPORT: Record<string, string[]> = {
  lib: ["protocol"],
  protocol: ["lib"],
  crypto: BASE,
  store: [...BASE, "crypto"],
  "actors/router": CORE,
  "actors/links": [...CORE, "actors/router"],
  "actors/ops": [...CORE, "actors/router", "actors/links", "client"],
  "actors/server": [...CORE, "actors/router", "actors/links", "actors/ops"],
  client: ["protocol", "crypto", "lib", "client/core"],
  // The client core is bundled into the page too: no backend that loads FFI, no Deno APIs.
  "client/core": ["protocol", "lib"],
  "web/src": ["protocol", "crypto", "lib", "client/core"],
};

/** The room of a repository path: the longest MAY_IMPORT key it lies under. */
function roomOf(path: string): string | undefined {
  return Object.keys(MAY_IMPORT).filter((room) => path.startsWith(room + "/"))
    .sort((a, b) => b.length - a.length)[0];
}

/** Every .ts file of the repository, outside dependencies and build output. */
async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && !/^(\.|node_modules$|dist$|data$)/.test(entry.name)) {
      yield* sources(path);
    } else if (entry.isFile && entry.name.endsWith(".ts")) yield path;
  }
}

/** The graph: repository path → the repository paths it imports (code or type). */
async function graph(): Promise<Map<string, Set<string>>> {
  const entry = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const lines = [];
    for await (const path of sources(ROOT.replace(/\/$/, ""))) {
      lines.push(`import "${toFileUrl(path).href}";`);
    }
    await Deno.writeTextFile(entry, lines.join("\n"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", `${ROOT}deno.json`, entry],
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("deno info failed");
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const local = (url?: string) =>
      url?.startsWith("file://") ? relative(ROOT, fromFileUrl(url)) : undefined;
    const edges = new Map<string, Set<string>>();
    for (const module of info.modules) {
      const from = local(module.specifier);
      if (from === undefined || from.startsWith("..")) continue;
      const to = new Set<string>();
      for (const dep of module.dependencies ?? []) {
        for (const target of [local(dep.code?.specifier), local(dep.type?.specifier)]) {
          if (target !== undefined) to.add(target);
        }
      }
      edges.set(from, to);
    }
    return edges;
  } finally {
    await Deno.remove(entry);
  }
}

/** Strongly connected components with more than one module (Tarjan), i.e. the cycles. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size), low.set(v, index.get(v)!), stack.push(v), onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do (w = stack.pop()!, onStack.delete(w), component.push(w)); while (w !== v);
    if (component.length > 1 || edges.get(v)?.has(v)) found.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

const edges = await graph();
const problems: string[] = [];
const found = cycles(edges).map((component) => component.join(" ↔ "));
for (const cycle of found) problems.push(`cycle: ${cycle}`);
for (const from of edges.keys()) {
  if (/^actors\/[^/]+$/.test(from) && from !== "actors/mod.ts") {
    problems.push(`${from} is outside a room (actors/router, links, server, ops)`);
  }
}
for (const [from, targets] of edges) {
  const room = roomOf(from);
  if (room === undefined) continue;
  for (const to of targets) {
    // A test beside product code may drive real processes through the shared test harness.
    if (from.endsWith("_test.ts") && to.startsWith("tests/")) continue;
    const target = roomOf(to) ?? to;
    if (target !== room && !MAY_IMPORT[room]!.includes(target)) {
      problems.push(`${from} imports ${to} (${room} may import only ${MAY_IMPORT[room]})`);
    }
  }
}
for (const problem of problems) console.error(problem);
console.log(`${edges.size} modules, ${problems.length} import problems`);
if (problems.length > 0) Deno.exit(1);
