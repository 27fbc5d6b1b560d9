/**
 * `deno task compile`: one self-contained executable, `dist/socp`, that runs every command of
 * main.ts without Deno or this checkout. The browser client is bundled first and embedded (a
 * compiled binary cannot run `deno bundle`), with the page, its stylesheet and the worker
 * threads' modules. `deno compile` needs its runtime (denort) for the target: from the Deno
 * cache, from `DENORT_BIN`, or downloaded on first use.
 * @module
 */
import { fileURLToPath } from "node:url";
import { v8FlagsArg } from "../actors/server/v8_flags.ts";
import { buildBrowserBundle, PREBUILT_BUNDLE } from "../actors/server/web_serve.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Where the executable goes (`--output FILE` to change). */
const output = Deno.args[Deno.args.indexOf("--output") + 1] ?? "dist/socp";

await Deno.mkdir(new URL("./", PREBUILT_BUNDLE), { recursive: true });
await Deno.writeTextFile(PREBUILT_BUNDLE, await buildBrowserBundle());
const compiled = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--allow-all",
    "--include",
    fileURLToPath(PREBUILT_BUNDLE),
    "--include",
    "web/index.html",
    "--include",
    "web/app.css",
    "--include",
    "crypto/sign_worker.ts",
    "--include",
    "store/read_ahead_worker.ts",
    "--include",
    "store/checkpoint_worker.ts",
    // Embedded: the binary starts V8 with them, as `deno task start` does.
    v8FlagsArg(),
    "--output",
    output,
    "main.ts",
  ],
  cwd: ROOT,
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!compiled.success) Deno.exit(compiled.code || 1);
console.log(`built ${output}`);
