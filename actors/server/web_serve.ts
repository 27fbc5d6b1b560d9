/**
 * Serves the browser client from the server's own port: `GET /` (index.html), `/app.js` and
 * `/app.css`, nothing else. The script is bundled from web/src/main.ts with `deno bundle` when
 * `serve` starts (or the first time it is asked for), and kept in memory: no build step, and no
 * artefact that can go stale. A compiled binary embeds the bundle made at build time. Every response carries a strict Content-Security-Policy (scripts and styles only from
 * this origin, WebSocket connections allowed).
 * @module
 */
import { fileURLToPath } from "node:url";

const WEB = new URL("../../web/", import.meta.url);
const ROOT = new URL("../../", import.meta.url);
const ENTRY = new URL("./src/main.ts", WEB);

/** The Content-Security-Policy of every browser-client response. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HEADERS: Record<string, string> = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};

let bundle: Promise<string> | undefined;

/**
 * Where `deno task compile` writes the bundle it embeds in the binary, which cannot run
 * `deno bundle` itself; a checkout never reads it, so it cannot go stale there.
 */
export const PREBUILT_BUNDLE = new URL("../../dist/web/app.js", import.meta.url);

/**
 * Bundles the browser client (web/src/main.ts) into one minified ES module. `deno bundle`
 * needs no network once its esbuild is in the Deno cache (fetched from npm on first use).
 */
export async function buildBrowserBundle(): Promise<string> {
  if (Deno.build.standalone) return await Deno.readTextFile(PREBUILT_BUNDLE);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--minify", fileURLToPath(ENTRY)],
    cwd: fileURLToPath(ROOT),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const code = new TextDecoder().decode(out.stdout);
  if (!out.success || code.trim() === "") {
    throw new Error(`deno bundle failed (exit ${out.code}): ${stderr.slice(-2000)}`);
  }
  return code;
}

/** The bundle, built once per process (a failed build is retried on the next request). */
export function browserBundle(): Promise<string> {
  bundle ??= buildBrowserBundle().catch((e) => {
    bundle = undefined;
    throw e;
  });
  return bundle;
}

/**
 * Answers the browser client's three routes, or `undefined` for any other request so the
 * server's own routes (e.g. /health) handle it.
 */
export function webRoute(
  request: Request,
  onError: (message: string) => void = (m) => console.error(m),
): Promise<Response> | undefined {
  if (request.method !== "GET") return undefined;
  const path = new URL(request.url).pathname;
  if (path === "/app.js") {
    return browserBundle().then(
      (code) => respond(code, "text/javascript; charset=utf-8"),
      (e) => {
        onError(`browser client: ${(e as Error).message}`);
        return respond(
          "the browser client could not be built; see the server log\n",
          "text/plain; charset=utf-8",
          500,
        );
      },
    );
  }
  const asset = STATIC[path];
  if (!asset) return undefined;
  // Start bundling while the browser parses the page.
  if (path === "/") browserBundle().catch(() => {});
  return Deno.readTextFile(new URL(asset.file, WEB)).then(
    (text) => respond(text, asset.type),
    () => respond("the browser client is not installed\n", "text/plain; charset=utf-8", 404),
  );
}

function respond(body: string, type: string, status = 200): Response {
  return new Response(body, { status, headers: { ...HEADERS, "content-type": type } });
}
