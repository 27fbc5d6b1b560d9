/**
 * Command-line entry point: `serve`, `client`, `identity`, `backup`, `replay`, `probe`,
 * `status`, `--version`. Builds the real world (clock, randomness, SQLite, sockets) and hands it
 * to the actors.
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultBackend, openBackend } from "./crypto/mod.ts";
import { refusing, StartupError } from "./lib/startup_error.ts";
import { systemRandom } from "./lib/world.ts";
import { BUILD } from "./actors/server/build.ts";
import { DATABASE_FILE } from "./store/store.ts";
import { runServe } from "./actors/server/serve_cli.ts";
import { readIdentity, saveIdentity } from "./store/identity.ts";
import { checkDataDir } from "./store/preflight.ts";
import { backupDatabase } from "./store/backup.ts";
import { runLibcrypto } from "./crypto/libcrypto_cli.ts";
import { runClient } from "./client/main.ts";
import { runReplay } from "./actors/ops/replay_cli.ts";
import { runTraceReplay } from "./actors/ops/trace_replay.ts";
import { runProbe } from "./probe/main.ts";
import { runStatus } from "./actors/ops/status.ts";

const USAGE = `SOCP v1.3 server and client (Deno)

Usage: deno run -A main.ts <command> [options]

Commands:
  serve      Run a server
  client     Run the terminal chat client
  identity   Print the server id and public key of a data dir (--create makes one)
  backup     Copy a server's database consistently, also while it runs
  replay     Re-run a server's journal: what arrived, what was decided, and why
             (replay --trace FILE: a client's wire trace, as the same timeline)
  probe      Check any SOCP v1.3 server for conformance and the spec's §16 weaknesses
  status     Show a running server's peers, links, backoff and users per server
  libcrypto  Fetch (or build) and check the current OpenSSL the server signs with

Run "deno run -A main.ts <command> --help" for the options of a command, and
"deno run -A main.ts --version" for the build, Deno and libcrypto versions.
`;

const IDENTITY_USAGE = `Usage: deno run -A main.ts identity [--data-dir DIR] [--create]

Prints {"server_id": ..., "pubkey": ...} (base64url DER SPKI) of the server that owns DIR
(default ./data). A DIR without a server key is refused (exit 2) unless --create is given,
which makes the identity a first \`serve\` would.
`;

const BACKUP_USAGE = `Usage: deno run -A main.ts backup [--data-dir DIR] --out FILE

Writes a consistent copy of DIR/${DATABASE_FILE} (default DIR ./data) to FILE, a new file
readable by its owner only, also while the server runs, and checks the copy. The server key
(server_key.pem) and identity.json never change after the first start: copy them once.
To restore: stop the server and put FILE in place of DIR/${DATABASE_FILE}.
`;

/** Runs one command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "serve":
      return await runServe(rest);
    case "identity":
      return await identity(rest);
    case "backup":
      return await backup(rest);
    case "--version":
    case "version":
      return (console.log(versionText()), 0);
    case "client":
      return await runClient(rest);
    case "replay":
      // A client's wire trace, or a server's journal.
      return rest.some((a) => a === "--trace" || a.startsWith("--trace="))
        ? await runTraceReplay(rest)
        : await runReplay(rest);
    case "probe":
      return await runProbe(rest);
    case "status":
      return await runStatus(rest);
    case "libcrypto":
      return await runLibcrypto(rest);
    case undefined:
    case "-h":
    case "--help":
    case "help":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

/** Runs an option parser, printing a clear error (and the usage) instead of a stack trace. */
function options<T>(parse: () => T, usage: string): T | undefined {
  try {
    return parse();
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    return undefined;
  }
}

/**
 * Parses the options of a command on a data dir: `--data-dir` (default ./data), `--help`, and
 * one more flag; an exit code when the command ends here (help, bad usage).
 */
function dataDirOptions(
  args: string[],
  usage: string,
  extra: { name: string; type: "string" | "boolean" },
): { dir: string; extra: string | boolean | undefined } | number {
  const values = options(
    () =>
      parseArgs({
        args,
        options: {
          "data-dir": { type: "string", default: "./data" },
          [extra.name]: { type: extra.type },
          help: { type: "boolean", short: "h" },
        },
      }).values,
    usage,
  );
  if (!values) return 2;
  if (values.help) return (console.log(usage), 0);
  return { dir: String(values["data-dir"]), extra: values[extra.name] };
}

async function identity(args: string[]): Promise<number> {
  const parsed = dataDirOptions(args, IDENTITY_USAGE, { name: "create", type: "boolean" });
  if (typeof parsed === "number") return parsed;
  const { dir, extra: create } = parsed;
  return await refusing(async () => {
    const backend = defaultBackend();
    if ((await checkDataDir(dir)) === "absent" && !create) throw noIdentity(dir);
    let id = await readIdentity(dir, backend);
    if (id === undefined && !create) throw noIdentity(dir);
    id = await saveIdentity(dir, id, backend, systemRandom, (m) => console.error(m));
    console.log(JSON.stringify({ server_id: id.server_id, pubkey: id.key.publicKey.spki }));
    return 0;
  });
}

function noIdentity(dir: string): StartupError {
  return new StartupError(
    `"${dir}" holds no server identity (no server_key.pem): pass the --data-dir of a server, ` +
      `or add --create to make one.`,
  );
}

async function backup(args: string[]): Promise<number> {
  const parsed = dataDirOptions(args, BACKUP_USAGE, { name: "out", type: "string" });
  if (typeof parsed === "number") return parsed;
  const out = parsed.extra;
  if (typeof out !== "string") {
    return (console.error(`backup needs --out FILE\n\n${BACKUP_USAGE}`), 2);
  }
  const from = join(parsed.dir, DATABASE_FILE);
  return await refusing(() => {
    const { events, bytes } = backupDatabase(from, out);
    console.log(`backed up ${from} to ${out} (${events} events, ${bytes} bytes)`);
    return 0;
  });
}

/** The build, Deno and the libcrypto `serve` would sign with, one per line. */
function versionText(): string {
  const { backend, origin } = openBackend();
  const lib = backend.library;
  return [
    BUILD,
    `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
    lib !== undefined
      ? `libcrypto ${lib.name} ${lib.version} (${lib.path ?? "system"}, ${origin})`
      : `libcrypto not loaded (crypto backend: ${backend.name})`,
  ].join("\n");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
