/**
 * One fuzz run over the three drivers: (a) the parser, (b) the Router's pure core, (c) real
 * sockets against an in-process server. Most frames go through (a) and (b), which are fast and
 * deterministic for a seed; a small share goes over sockets. Unhandled rejections and uncaught
 * errors during the run count as failures.
 * @module
 */
import { defaultCast, FrameGen, Rng } from "./gen.ts";
import {
  type Failure,
  fuzzParse,
  fuzzRouter,
  type ParseStats,
  RouterModel,
  type RouterStats,
} from "./drivers.ts";
import { fuzzSockets, type SocketStats } from "./sockets.ts";

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  seed: number;
  /** Frames in total, across the three drivers. */
  frames: number;
  /** Frames over real sockets (default: 3% of `frames`, between 500 and 20 000). */
  socketFrames?: number;
  /** Longest the socket driver may send for (ms). */
  socketBudgetMs?: number;
  /** Called now and then with the frames done so far. */
  progress?: (done: number, total: number, phase: string) => void;
  /** Failures kept in the report at most (all are counted). */
  keepFailures?: number;
}

/** The outcome of a run. */
export interface FuzzReport {
  seed: number;
  frames: number;
  parse: ParseStats;
  router: RouterStats;
  sockets: SocketStats;
  crashes: number;
  unhandled: number;
  failures: Failure[];
  seconds: number;
  /** Peak resident memory of the whole process (MB). */
  peakRssMb: number;
}

/** Runs (a), (b) and (c) for `frames` frames from `seed`. */
export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const keep = o.keepFailures ?? 20;
  const failures: Failure[] = [];
  let crashes = 0;
  const fail = (f: Failure) => {
    crashes++;
    if (failures.length < keep) failures.push(f);
  };
  let unhandled = 0;
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    unhandled++;
    fail({ driver: "socket", index: -1, error: `unhandled rejection: ${String(e.reason)}` });
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    unhandled++;
    fail({ driver: "socket", index: -1, error: `uncaught error: ${String(e.error ?? e.message)}` });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  let peakRssMb = 0;
  const rss = () => (peakRssMb = Math.max(peakRssMb, Math.round(Deno.memoryUsage().rss / 2 ** 20)));
  try {
    const socketFrames = o.socketFrames ??
      Math.min(20_000, Math.max(500, Math.round(o.frames * 0.03)));
    const pure = Math.max(0, o.frames - socketFrames);
    const parseFrames = Math.round(pure * 0.6);
    const routerFrames = pure - parseFrames;
    const chunk = 10_000;

    const parseGen = new FrameGen(o.seed);
    const parse: ParseStats = { frames: 0, ok: 0, refused: {} };
    for (let done = 0; done < parseFrames; done += chunk) {
      fuzzParse(parseGen, Math.min(chunk, parseFrames - done), fail, parse);
      rss();
      o.progress?.(parse.frames, o.frames, "parse");
      await new Promise((r) => setTimeout(r, 0));
    }

    const routerGen = new FrameGen(o.seed + 1);
    const model = new RouterModel(new Rng(o.seed + 2), defaultCast());
    const router: RouterStats = { frames: 0, inputs: 0, accepted: 0, events: 0, resets: 0 };
    for (let done = 0; done < routerFrames; done += chunk) {
      fuzzRouter(routerGen, model, Math.min(chunk, routerFrames - done), fail, router);
      rss();
      o.progress?.(parse.frames + router.frames, o.frames, "router");
      await new Promise((r) => setTimeout(r, 0));
    }

    const sockets = await fuzzSockets({
      seed: o.seed + 3,
      frames: socketFrames,
      budgetMs: o.socketBudgetMs ?? 120_000,
      fail,
      progress: (n) => o.progress?.(parse.frames + router.frames + n, o.frames, "sockets"),
    });
    rss();
    peakRssMb = Math.max(peakRssMb, sockets.peakRssMb);
    // Let late rejections surface before the listeners go.
    await new Promise((r) => setTimeout(r, 50));
    return {
      seed: o.seed,
      frames: parse.frames + router.frames + sockets.frames,
      parse,
      router,
      sockets,
      crashes,
      unhandled,
      failures,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      peakRssMb,
    };
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
}

/** The command that reproduces a run. */
export function reproduction(seed: number, frames: number): string {
  return `deno task fuzz --seed ${seed} --frames ${frames}`;
}
