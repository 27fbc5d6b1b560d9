/**
 * `main.ts probe ws://HOST:PORT`: a black-box conformance and security probe of any SOCP v1.3
 * server. It reads the target tolerantly (every variant of SOCP-1.3.md §5/§12), runs the checks
 * of `checks.ts` with a timeout per step, and reports PASS / FAIL / SKIP per check.
 * @module
 */
import { parseArgs } from "node:util";
import { defaultBackend } from "../crypto/mod.ts";
import { CHECKS } from "./checks.ts";
import { ProbeContext } from "./context.ts";
import { KEY_FILES, KeyFileError, loadKeys } from "./keys.ts";
import { buildReport, formatLine, formatSummary } from "./report.ts";
import { runChecks } from "./runner.ts";
import type { ProbeOptions } from "./session.ts";

const files = (name: keyof typeof KEY_FILES) => KEY_FILES[name].join("|");

export const PROBE_USAGE = `Usage: deno run -A main.ts probe ws://HOST:PORT [options]

Checks any SOCP v1.3 server (ours or another team's) from the outside: two users connect, one
link as a peer server, a few dozen frames in all. It checks the mandatory features (spec §14/§18:
hello, /list, DMs, error codes, signed server frames, SERVER_DELIVER routing) and that the
weaknesses of the spec's §16 are refused (RSA-1024/2048 and e=3 keys, malformed keys, replayed
SERVER_DELIVER, unsigned or wrongly signed USER_ADVERTISE). One line per check: PASS, FAIL, or
SKIP when the target cannot be checked that way (e.g. it refuses unknown servers).

Options:
  --keys DIR             Read PEM keys from DIR instead of generating them (missing ones are
                         generated): ${files("a")}, ${files("b")} and
                         ${files("server")} (RSA-4096), ${files("rsa1024")},
                         ${files("rsa2048")}, ${files("e3")}
  --timeout-ms N         Longest wait of one step, in ms (default 5000)
  --server-pubkey KEY    The target's public key (base64url DER or PEM, or a file holding it);
                         by default it is read from the hello reply (ACK server_pub) or welcome
  --server-id ID         The target's server id, when its replies do not say it
  --pss-salt N           PSS salt length of the probe's signatures: 32 (default) or 478
  --json                 Print one JSON report instead of lines
  -h, --help             Show this help

Exit codes: 0 no check failed (SKIPs allowed), 1 at least one check failed, 2 bad usage.
`;

/** Runs the probe command line; returns the exit code. */
export async function runProbe(args: string[]): Promise<number> {
  const parsed = await readArgs(args);
  if (typeof parsed === "number") return parsed;
  const { url, timeoutMs, keysDir, json } = parsed;
  const say = (line: string) => console.error(line);
  const backend = defaultBackend(say);
  let keys;
  try {
    keys = await loadKeys(backend, keysDir, say);
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    return usageError(`Unusable key file ${e.message}`);
  }
  const ctx = new ProbeContext({ ...parsed.opts, say }, backend, keys);
  const refused = await ctx.pinGivenServerKey();
  if (refused !== undefined) return usageError(`Invalid --server-pubkey: ${refused}`);

  if (!json) console.log(`SOCP v1.3 probe of ${url} (step timeout ${timeoutMs} ms)\n`);
  let results;
  try {
    results = await runChecks(ctx, CHECKS, (r) => {
      if (!json) console.log(formatLine(r));
    });
  } finally {
    await ctx.close();
  }
  const report = buildReport(url, timeoutMs, results);
  console.log(json ? JSON.stringify(report, null, 2) : formatSummary(report));
  return report.exit_code;
}

/** The command line, checked: what to probe and how, or the exit code of a usage error. */
async function readArgs(args: string[]): Promise<
  | {
    url: string;
    timeoutMs: number;
    keysDir: string | undefined;
    json: boolean;
    opts: Omit<ProbeOptions, "say">;
  }
  | number
> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        keys: { type: "string" },
        "timeout-ms": { type: "string", default: "5000" },
        "server-pubkey": { type: "string" },
        "server-id": { type: "string" },
        "pss-salt": { type: "string", default: "32" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return usageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return (console.log(PROBE_USAGE), 0);
  if (positionals.length !== 1) {
    return usageError(
      positionals.length === 0
        ? "Missing the target address (ws://HOST:PORT)."
        : `Expected one target address, got ${positionals.length}.`,
    );
  }
  const url = positionals[0]!;
  if (!/^wss?:\/\/[^/]+/.test(url) || !URL.canParse(url)) {
    return usageError(`Invalid target "${url}": expected ws://HOST:PORT or wss://HOST:PORT`);
  }
  const timeoutMs = Number(values["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 600_000) {
    return usageError(
      `Invalid --timeout-ms "${
        values["timeout-ms"]
      }": expected a whole number of ms from 100 to 600000`,
    );
  }
  const saltLength = Number(values["pss-salt"]);
  if (saltLength !== 32 && saltLength !== 478) {
    return usageError(`Invalid --pss-salt "${values["pss-salt"]}": expected 32 or 478`);
  }
  let serverPub = values["server-pubkey"];
  if (serverPub !== undefined) serverPub = await readKeyArgument(serverPub);
  if (values.keys !== undefined && !(await isDirectory(values.keys))) {
    return usageError(`Invalid --keys "${values.keys}": not a directory`);
  }
  const opts = { url, timeoutMs, serverPub, serverId: values["server-id"], saltLength };
  return { url, timeoutMs, keysDir: values.keys, json: values.json, opts };
}

function usageError(message: string): number {
  console.error(`${message}\n\n${PROBE_USAGE}`);
  return 2;
}

/** `--server-pubkey` may name a file holding the key. */
async function readKeyArgument(value: string): Promise<string> {
  if (value.startsWith("-----BEGIN") || value.length > 512) return value;
  try {
    return (await Deno.readTextFile(value)).trim();
  } catch {
    return value;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
