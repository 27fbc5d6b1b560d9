// Goal: every way of starting a server that we ship (`deno task start`, the compiled binary,
// the bench's servers) passes the server's V8 flags, so they cannot drift apart.
import assert from "node:assert/strict";
import { SERVER_V8_FLAGS, v8FlagsArg } from "./v8_flags.ts";

const root = new URL("../../", import.meta.url);

Deno.test("deno task start serves with the server's V8 flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const start: string = config.tasks.start.command;
  const serve = start.split("&&").map((c) => c.trim()).find((c) => c.includes("main.ts serve"));
  assert.ok(serve, `no "main.ts serve" in the start task: ${start}`);
  assert.ok(serve.includes(` ${v8FlagsArg()} `), `start task without ${v8FlagsArg()}: ${serve}`);
});

Deno.test("v8FlagsArg joins the server's flags and extra ones into one argument", () => {
  assert.equal(v8FlagsArg(), `--v8-flags=${SERVER_V8_FLAGS.join(",")}`);
  assert.equal(
    v8FlagsArg(["--expose-gc"]),
    `--v8-flags=${[...SERVER_V8_FLAGS, "--expose-gc"].join(",")}`,
  );
});

Deno.test("the compiled binary and the bench's servers pass v8FlagsArg", async () => {
  for (const file of ["tools/compile.ts", "bench/cluster.ts"]) {
    const text = await Deno.readTextFile(new URL(file, root));
    assert.match(text, /v8FlagsArg\(/, `${file} does not pass the server's V8 flags`);
  }
});
