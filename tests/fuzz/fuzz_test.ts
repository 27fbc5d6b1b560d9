// Goal: 100 000+ seeded hostile frames through the parser, the Router's decisions
// and a live server's sockets cause no crash, no unhandled rejection and no broken invariant;
// the server keeps serving two healthy users and its memory stays bounded. The seed is fixed
// (FUZZ_SEED overrides it); a failure prints the seed and the command that reproduces it.
import assert from "node:assert/strict";
import { FRAME_TYPES, FrameGen } from "./gen.ts";
import { reproduction, runFuzz } from "./run.ts";
import { parseFrame } from "../../protocol/parse.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_251);
const FRAMES = 100_000;

Deno.test("the generator is deterministic and makes valid frames of every type", () => {
  const a = new FrameGen(42);
  const b = new FrameGen(42);
  for (let i = 0; i < 2_000; i++) assert.equal(a.next().text, b.next().text, `frame ${i}`);
  const seen = new Set<string>();
  const gen = new FrameGen(7);
  for (let i = 0; i < 20_000 && seen.size < FRAME_TYPES.length; i++) {
    const g = gen.next();
    if (g.kind !== "valid") continue;
    const p = parseFrame(g.text, 256 * 1024);
    if (p.ok) seen.add(p.frame.type);
  }
  assert.deepEqual([...seen].sort(), [...FRAME_TYPES].sort(), "every frame type parses valid");
});

Deno.test({
  name:
    `fuzz: ${FRAMES} frames (parser, Router, live sockets), seed ${SEED}: no crash, bounded memory`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const report = await runFuzz({
      seed: SEED,
      frames: FRAMES,
      socketFrames: 3_000,
      socketBudgetMs: 40_000,
    });
    const s = report.sockets;
    console.log(
      `fuzz seed ${SEED}: ${report.frames} frames in ${report.seconds} s (parse ${report.parse.frames}, router ${report.router.frames}, sockets ${s.frames} in ${s.sessions} sessions), crashes ${report.crashes}, peak rss ${report.peakRssMb} MB, heap ${s.startHeapMb} -> ${s.endHeapMb} MB`,
    );
    const why = report.failures.map((f) =>
      `[${f.driver} #${f.index}] ${f.error.slice(0, 1500)}${f.frame ? `\n  frame: ${f.frame}` : ""}`
    ).join("\n");
    assert.equal(report.crashes, 0, `failures (reproduce: ${reproduction(SEED, FRAMES)}):\n${why}`);
    assert.equal(report.unhandled, 0);
    assert.ok(report.frames >= FRAMES, `${report.frames} frames`);
    assert.ok(s.frames >= 1_000, `only ${s.frames} frames over sockets`);
    assert.ok(s.healthyRounds >= 1, "the healthy users chatted");
    assert.ok(s.endHeapMb - s.startHeapMb < 256, `heap grew ${s.startHeapMb} -> ${s.endHeapMb} MB`);
  },
});
