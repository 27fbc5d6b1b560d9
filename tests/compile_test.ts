// Goal: `deno task compile` builds one executable that answers --version and serves /health and
// the browser client (page and embedded bundle) with no Deno or checkout beside it. deno compile
// needs its runtime (denort), which it downloads unless DENORT_BIN names one or the Deno cache
// holds it: without either (an offline machine) this test is reported as ignored, not passed.
import assert from "node:assert/strict";
import { join } from "node:path";
import { BUILD } from "../actors/server/build.ts";
import { makeDataDir, ROOT, untilListening } from "./harness/processes.ts";

function denortAvailable(): boolean {
  if (Deno.env.get("DENORT_BIN")) return true;
  const home = Deno.env.get("HOME") ?? "";
  const denoDir = Deno.env.get("DENO_DIR") ?? join(home, ".cache", "deno");
  const zip = join(
    denoDir,
    "dl",
    "release",
    `v${Deno.version.deno}`,
    `denort-${Deno.build.target}.zip`,
  );
  try {
    return Deno.statSync(zip).isFile;
  } catch {
    return false;
  }
}

Deno.test({
  name: "the compiled socp binary answers --version and serves /health and the browser client",
  ignore: !denortAvailable(),
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "socp-compile-" });
    const binary = join(out, "socp");
    const dataDir = await makeDataDir("server3");
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "tools/compile.ts"), "--output", binary],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(built.success, new TextDecoder().decode(built.stderr));
      const version = await new Deno.Command(binary, { args: ["--version"], cwd: out }).output();
      assert.equal(version.code, 0);
      assert.equal(new TextDecoder().decode(version.stdout).split("\n")[0], BUILD);

      const child = new Deno.Command(binary, {
        args: ["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir],
        cwd: out,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      try {
        const { url } = await untilListening(child, [], { timeoutMs: 30_000 });
        const base = url.replace(/^ws:/, "http:");
        const health = await (await fetch(`${base}/health`)).json();
        assert.equal(health.status, "ok");
        for (const path of ["/", "/app.js"]) {
          const response = await fetch(`${base}${path}`);
          assert.equal(response.status, 200, path);
          assert.ok((await response.text()).length > 100, path);
        }
      } finally {
        child.kill("SIGTERM");
        await child.status;
      }
    } finally {
      await Deno.remove(out, { recursive: true });
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
