// Goal: `deno task bench --smoke` runs every benchmark scenario end to end (real server
// processes, sockets, SQLite) and writes an entry for each to the results file. No timing is
// asserted: a loaded CI machine makes any figure meaningless; BENCHMARKS.md holds real runs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./harness/processes.ts";

Deno.test({
  name: "bench --smoke: every scenario produces an entry in the results file",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "socp-bench-smoke-" });
    const out = join(dir, "results.json");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "bench/main.ts"), "--smoke", "--out", out],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    }).spawn();
    // Bounded: a hung scenario must fail the test, not hang CI.
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 400_000);
    const result = await child.output();
    clearTimeout(killer);
    const log = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    try {
      assert.equal(result.code, 0, log.slice(-6000));
      const document = JSON.parse(await Deno.readTextFile(out));
      assert.equal(document.smoke, true);
      assert.deepEqual(document.failed, []);
      assert.ok(document.ceiling.signs_per_s > 0);
      const names: string[] = document.results.map((r: { name: string }) => r.name);
      for (const prefix of ["a:", "a':", "b:", "c:", "d:", "e:", "f:", "g:"]) {
        assert.ok(names.some((n) => n.startsWith(prefix)), `no entry for ${prefix} in ${names}`);
      }
      for (const r of document.results) {
        for (
          const key of ["throughput_per_s", "p50_ms", "p99_ms", "limit_per_s", "ratio_to_limit"]
        ) {
          assert.ok(key in r, `${r.name} lacks ${key}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
