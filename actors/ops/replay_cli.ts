/**
 * `main.ts replay`: prints a server's journal re-run as a timeline, checks it against the
 * recorded events, or exports a slice as a test fixture. Never touches the network.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { defaultBackend } from "../../crypto/mod.ts";
import { DATABASE_FILE, Store } from "../../store/store.ts";
import { replay, type ReplayStep } from "./replay.ts";

/** Usage text. */
export const REPLAY_USAGE =
  `Usage: deno run -A main.ts replay [--data-dir DIR | --db FILE] [options]

Re-runs every journaled input of a server through the same parse / verify / decide code, with
the recorded clock and randomness, and prints what arrived, what was decided and why.

Options:
  --data-dir DIR        The server's data dir (reads DIR/${DATABASE_FILE}; default ./data)
  --db FILE             A database file instead (e.g. an exported fixture)
  --until SEQ|TIME      Stop after journal row SEQ, or after TIME (ISO 8601 or Unix ms)
  --filter TEXT         Only show steps whose type, link, or from/to id contains TEXT
  --json                One JSON object per step
  --check               Compare re-derived events and verdicts with the recorded ones; exit 1
                        at the first divergence
  --export FROM..TO FILE  Write journal rows FROM..TO (and the events they need) to FILE
  -h, --help            Show this help

replay --trace FILE renders a client's wire trace (client --trace FILE) the same way.
`;

/** Runs the replay command; returns the exit code. */
export async function runReplay(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        "data-dir": { type: "string" },
        db: { type: "string" },
        until: { type: "string" },
        filter: { type: "string" },
        json: { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        export: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${REPLAY_USAGE}`);
    return 2;
  }
  if (values.help) return (console.log(REPLAY_USAGE), 0);
  const path = values.db ?? join(values["data-dir"] ?? "./data", DATABASE_FILE);
  try {
    await Deno.stat(path);
  } catch {
    console.error(`Cannot replay: no database at "${path}"`);
    return 2;
  }
  if (values.export !== undefined) return exportSlice(path, values.export, positionals[0]);
  const until = parseUntil(values.until);
  if (until === null) {
    console.error(
      `Invalid --until "${values.until}": expected a journal seq, Unix ms or an ISO time`,
    );
    return 2;
  }
  let store: Store | undefined;
  const progress = { count: 0 };
  try {
    store = Store.open(path);
    return await show(store, values, until, progress);
  } catch (e) {
    // A damaged page ends the read: say how far it went instead of a stack trace.
    if ((e as { code?: string }).code !== "ERR_SQLITE_ERROR") throw e;
    console.error(
      `replay: "${path}" cannot be read after ${progress.count} inputs (${
        (e as Error).message
      }): ` +
        "the log is damaged from there on; restore it from a backup (made with `main.ts backup`).",
    );
    return 1;
  } finally {
    store?.db.close();
  }
}

/** Replays `store` and prints the steps (or, with --check, only the first divergence). */
async function show(
  store: Store,
  values: { json: boolean; check: boolean; filter?: string | undefined },
  until: { untilSeq?: number; untilMs?: number },
  progress: { count: number },
): Promise<number> {
  if (!values.json) {
    console.error(
      `(log made by ${
        store.getMeta("build") ?? "an unknown build"
      }; replaying with ${defaultBackend().name} crypto, no network)`,
    );
  }
  let shown = 0;
  for await (const step of replay(store, { backend: defaultBackend(), ...until })) {
    progress.count++;
    if (values.check && step.divergence) {
      console.log(render(step, false));
      console.error(
        `replay --check: divergence at journal row ${step.row.seq}: ${step.divergence}`,
      );
      return 1;
    }
    if (values.check || (values.filter && !matches(step, values.filter))) continue;
    shown++;
    console.log(render(step, values.json));
  }
  if (values.check) {
    console.log(
      `replay --check: ${progress.count} inputs re-run; every verdict and event matches the log`,
    );
  } else if (!values.json) console.error(`(${shown} of ${progress.count} inputs shown)`);
  return 0;
}

function parseUntil(text: string | undefined): { untilSeq?: number; untilMs?: number } | null {
  if (text === undefined) return {};
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n < 1e11 ? { untilSeq: n } : { untilMs: n };
  }
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : { untilMs: ms };
}

function matches(step: ReplayStep, text: string): boolean {
  const f = step.frame;
  return [step.row.link, f?.type, f?.from, f?.to, step.row.kind].some((v) => v?.includes(text)) ||
    step.events.some((e) => JSON.stringify(e).includes(text));
}

/** One step as a timeline line (or JSON). */
export function render(step: ReplayStep, json: boolean): string {
  const { row } = step;
  if (json) {
    return JSON.stringify({
      seq: row.seq,
      at: new Date(row.at_ms).toISOString(),
      link: row.link,
      kind: row.kind,
      ...step.frame,
      verdict: step.verdict.accepted ? "accepted" : "dropped",
      reason: step.verdict.reason,
      events: step.events,
      sent: step.sent,
      divergence: step.divergence,
    });
  }
  const what = row.kind === "outbound"
    ? outboundWhat(step)
    : step.frame
    ? `${step.frame.type} ${short(step.frame.from)} → ${short(step.frame.to)}`
    : row.kind === "frame"
    ? "(unparsable frame)"
    : row.kind.toUpperCase();
  const lines = [
    `#${row.seq} ${new Date(row.at_ms).toISOString().slice(11, 23)} ${row.link || "-"} ${what}`,
    `    ${step.verdict.accepted ? "accepted" : "DROPPED"}${
      step.verdict.reason ? `: ${step.verdict.reason}` : ""
    }`,
  ];
  if (step.events.length > 0) {
    lines.push(`    events: ${step.events.map((e) => e.type).join(", ")}`);
  }
  if (step.sent.length > 0) lines.push(`    sent: ${step.sent.join("; ")}`);
  return lines.join("\n");
}

/** An outbound attempt: what we tried, where, and the answer's type if one came. */
function outboundWhat(step: ReplayStep): string {
  const input = JSON.parse(step.row.input || "{}");
  const answer = step.frame ? `, answered ${step.frame.type} from ${short(step.frame.from)}` : "";
  return `OUTBOUND ${String(input.what ?? "").toUpperCase()} → ${input.target ?? "?"}${answer}`;
}

function short(id: string): string {
  return /^[0-9a-f]{8}-[0-9a-f-]{27}$/.test(id) ? id.slice(0, 8) : id;
}

/** Copies journal rows FROM..TO and every event up to their last one into a new database. */
function exportSlice(path: string, range: string, file: string | undefined): number {
  const m = /^(\d+)\.\.(\d+)$/.exec(range);
  if (!m || !file) {
    console.error(
      `Usage: replay --export FROM..TO FILE (journal seqs), e.g. --export 1..200 fixture.sqlite`,
    );
    return 2;
  }
  const [from, to] = [Number(m[1]), Number(m[2])];
  const out = Store.open(file);
  out.close();
  const db = new DatabaseSync(file);
  db.exec(`ATTACH DATABASE '${path.replace(/'/g, "''")}' AS src`);
  db.exec("BEGIN");
  const last = db.prepare("SELECT MAX(event_seq) AS e FROM src.journal WHERE seq BETWEEN ? AND ?")
    .get(from, to) as { e: number | null };
  const next = db.prepare("SELECT MIN(event_seq) AS e FROM src.journal WHERE seq > ?").get(to) as {
    e: number | null;
  };
  const eventsTo = next.e ?? Number.MAX_SAFE_INTEGER;
  db.prepare("INSERT INTO events SELECT * FROM src.events WHERE seq <= ?").run(
    Math.max(eventsTo, last.e ?? 0),
  );
  db.prepare("INSERT INTO journal SELECT * FROM src.journal WHERE seq BETWEEN ? AND ?").run(
    from,
    to,
  );
  db.exec("INSERT INTO log_meta SELECT * FROM src.log_meta");
  db.exec("COMMIT");
  const rows = (db.prepare("SELECT COUNT(*) AS n FROM journal").get() as { n: number }).n;
  db.exec("DETACH DATABASE src");
  db.close();
  const re = Store.open(file);
  re.rebuildProjections();
  re.close();
  console.log(`exported ${rows} journal rows to ${file}`);
  return 0;
}
