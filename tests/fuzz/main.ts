/**
 * `deno task fuzz [--frames N] [--seed S] [--json]`: a long fuzz run (default 1 000 000
 * frames) with progress on stderr. Exit code 0 when nothing crashed, 1 otherwise, with the
 * seed, the failing frames and the command that reproduces the run.
 * @module
 */
import { parseArgs } from "node:util";
import { reproduction, runFuzz } from "./run.ts";

const USAGE = `Usage: deno task fuzz [--frames N] [--seed S] [--socket-frames N] [--json]

Fuzzes the frame parser, the Router's decisions and a live in-process server with seeded,
structured hostile frames. Defaults: 1000000 frames, a random seed (printed).
`;

async function main(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        frames: { type: "string", default: "1000000" },
        seed: { type: "string" },
        "socket-frames": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) return (console.log(USAGE), 0);
  const frames = Number(values.frames);
  const seed = values.seed === undefined
    ? crypto.getRandomValues(new Uint32Array(1))[0]!
    : Number(values.seed);
  const socketFrames = values["socket-frames"] === undefined
    ? undefined
    : Number(values["socket-frames"]);
  if (!Number.isInteger(frames) || frames < 1 || !Number.isInteger(seed) || seed < 0) {
    console.error(`--frames and --seed must be non-negative integers\n\n${USAGE}`);
    return 2;
  }
  console.error(`fuzz: ${frames} frames, seed ${seed}  (reproduce: ${reproduction(seed, frames)})`);
  let last = 0;
  const report = await runFuzz({
    seed,
    frames,
    socketFrames,
    socketBudgetMs: 600_000,
    progress: (done, total, phase) => {
      const now = Date.now();
      if (now - last < 2_000 && done < total) return;
      last = now;
      const rss = Math.round(Deno.memoryUsage().rss / 2 ** 20);
      console.error(
        `fuzz: ${done}/${total} frames (${
          Math.floor((done / total) * 100)
        }%), ${phase}, rss ${rss} MB`,
      );
    },
  });
  const summary = {
    seed: report.seed,
    frames: report.frames,
    seconds: report.seconds,
    crashes: report.crashes,
    unhandled_rejections: report.unhandled,
    peak_rss_mb: report.peakRssMb,
    parse: report.parse,
    router: report.router,
    sockets: report.sockets,
  };
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(JSON.stringify(summary, null, 2));
  if (report.crashes > 0) {
    console.error(`\nfuzz: ${report.crashes} failure(s) with seed ${seed}:`);
    for (const f of report.failures) {
      console.error(
        `- [${f.driver} #${f.index}] ${f.error}${f.frame ? `\n  frame: ${f.frame}` : ""}`,
      );
    }
    console.error(`\nreproduce: ${reproduction(seed, frames)}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
