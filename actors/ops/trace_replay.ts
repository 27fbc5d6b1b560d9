/**
 * `main.ts replay --trace FILE`: a client's wire trace (client/trace.ts) as the same timeline
 * `replay` prints for a server's journal, rendered by the same code.
 * @module
 */
import { parseArgs } from "node:util";
import { type ReplayStep, summary } from "./replay.ts";
import { render } from "./replay_cli.ts";
import type { TraceLine } from "../../client/trace.ts";

const USAGE = `Usage: deno run -A main.ts replay --trace FILE [--filter TEXT] [--json]

Prints a client's wire trace (written by "client --trace FILE"): every frame both ways, with
the client's verdict (why a frame was dropped, which content_sig layout verified, which ids are
not UUID v4).
`;

/** Runs `replay --trace`; returns the exit code. */
export async function runTraceReplay(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        trace: { type: "string" },
        filter: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help || !values.trace) return (console.log(USAGE), values.help ? 0 : 2);
  let text: string;
  try {
    text = await Deno.readTextFile(values.trace);
  } catch (e) {
    console.error(`Cannot read trace "${values.trace}": ${(e as Error).message}`);
    return 2;
  }
  const steps = traceSteps(text);
  let shown = 0;
  for (const step of steps) {
    if (values.filter && !JSON.stringify(step).includes(values.filter)) continue;
    shown++;
    console.log(render(step, values.json));
  }
  if (!values.json) console.error(`(${shown} of ${steps.length} frames shown)`);
  return 0;
}

/** The lines of a trace as replay steps; a line that is not a trace line is shown as such. */
export function traceSteps(text: string): ReplayStep[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l, i) => toStep(l, i + 1));
}

function toStep(text: string, lineNo: number): ReplayStep {
  let line: TraceLine;
  try {
    line = JSON.parse(text);
  } catch {
    line = {
      seq: lineNo,
      at_ms: 0,
      dir: "in",
      raw: text,
      verdict: "dropped",
      reason: "not a trace line",
    };
  }
  const frame = summary(line.raw);
  const out = line.dir === "out";
  return {
    row: {
      seq: line.seq,
      at_ms: line.at_ms,
      link: out ? "client→server" : "server→client",
      kind: "frame",
      raw: line.raw,
      input: "",
      verdict: line.verdict,
      reason: line.reason,
      event_seq: 0,
    },
    ...(frame ? { frame } : {}),
    verdict: { accepted: line.verdict === "accepted", reason: line.reason },
    events: [],
    sent: out && frame ? [`${frame.type} → ${frame.to || "server"}`] : [],
  };
}
