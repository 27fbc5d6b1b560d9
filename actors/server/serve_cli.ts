/**
 * `main.ts serve`: the settings from defaults, the settings file (`--config`), `SOCP_*`
 * environment variables and flags, in that order of precedence (flags win); then the server,
 * until SIGINT or SIGTERM. A start that cannot go on is one sentence and exit code 2.
 * @module
 */
import { parseArgs } from "node:util";
import {
  createLogger,
  defaultLogFormat,
  isLogFormat,
  isLogLevel,
  type LogFormat,
  type Logger,
} from "../../lib/log.ts";
import { refusing, StartupError } from "../../lib/startup_error.ts";
import { browserBundle } from "./web_serve.ts";
import {
  buildConfig,
  type ConfigOverrides,
  ENV_OVERRIDES,
  envOverrides,
  parsePort,
  type ServerConfig,
} from "./config.ts";
import { startServer } from "./server.ts";
import { mallocTrimmer } from "./memory_trim.ts";
import { MEMORY_TRIM_INTERVAL_MS } from "../../protocol/limits.ts";

const ENV_NAMES = [
  ...Object.keys(ENV_OVERRIDES),
  "SOCP_CONFIG",
  "SOCP_LOG_LEVEL",
  "SOCP_LOG_FORMAT",
];

/** Usage text. */
export const SERVE_USAGE = `Usage: deno run -A main.ts serve [options]

Runs a SOCP server: users and servers connect to ws://HOST:PORT (wss:// with --tls-cert), and
a browser opens http://HOST:PORT/.

Options (flags override SOCP_* environment variables, which override the settings file):
  --config FILE          YAML settings file: bootstrap_servers (host, port, pubkey) to join a
                         network through, and any setting below (see README)
  --bootstrap FILE       Same as --config
  --host HOST            Address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port N               Port to listen on (default 8765; 0 picks a free one)
  --data-dir DIR         Where identity and database live (default ./data)
  --advertise-host HOST  Address other servers use to reach us (default: --host, or 127.0.0.1)
  --advertise-port N     Port other servers use to reach us (default: the listening port)
  --tls-cert FILE        Serve wss:// with this PEM certificate chain (with --tls-key)
  --tls-key FILE         PEM private key of --tls-cert
  --check-db             Check every page of the database at start (integrity_check), not
                         only its structure (quick_check, the default)
  --log-level LEVEL      debug | info | warn | error (default info)
  --log-format FORMAT    text | json (default: text on a terminal, json otherwise)
  --libcrypto PATH       The libcrypto to sign with: a file, or "system" (default: the
                         current OpenSSL in the user's cache when checked there, else the
                         system's; also $SOCP_LIBCRYPTO)
  -h, --help             Show this help

Environment variables, each standing for the flag of the same name:
  ${ENV_NAMES.slice(0, 5).join(", ")},
  ${ENV_NAMES.slice(5).join(", ")}

Without bootstrap servers the server forms its own network and acts as an introducer.
Exit codes: 0 stopped by a signal, 2 did not start (the reason is on stderr).
`;

const SERVE_OPTIONS = {
  config: { type: "string" },
  bootstrap: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  "data-dir": { type: "string" },
  "advertise-host": { type: "string" },
  "advertise-port": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "check-db": { type: "boolean" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  libcrypto: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `serve`; returns the exit code. */
export async function runServe(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<number> {
  let flags;
  try {
    flags = parseArgs({ args, options: SERVE_OPTIONS }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${SERVE_USAGE}`);
    return 2;
  }
  const values = flags;
  if (values.help) return (console.log(SERVE_USAGE), 0);
  return await refusing(async () => {
    const log = logger(
      values["log-level"] ?? env("SOCP_LOG_LEVEL"),
      values["log-format"] ?? env("SOCP_LOG_FORMAT"),
    );
    const { config, warnings, notes } = await settings(values, env);
    const server = await startServer({
      config,
      log,
      checkDb: values["check-db"] ? "full" : "quick",
      libcrypto: values.libcrypto,
    });
    for (const warning of warnings) log.warn(warning);
    for (const note of notes) log.info(note);
    warmBrowserClient(log);
    await untilSignal(log);
    await server.close();
    return 0;
  });
}

type ServeFlags = Partial<Record<string, string | boolean>>;

/** The configuration from the settings file, the environment and the flags. */
async function settings(
  values: ServeFlags,
  env: (name: string) => string | undefined,
): Promise<{ config: ServerConfig; warnings: string[]; notes: string[] }> {
  const flag = (name: string) => values[name] as string | undefined;
  if (flag("config") !== undefined && flag("bootstrap") !== undefined) {
    throw new StartupError("Pass either --config or --bootstrap (the same option), not both.");
  }
  const [fileFlag, file] = flag("config") !== undefined
    ? ["settings", flag("config")]
    : flag("bootstrap") !== undefined
    ? ["bootstrap", flag("bootstrap")]
    : ["settings", env("SOCP_CONFIG") || undefined];
  const overrides: ConfigOverrides = envOverrides(env);
  const set = <K extends keyof ConfigOverrides>(key: K, value: ConfigOverrides[K] | undefined) => {
    if (value !== undefined) overrides[key] = value;
  };
  set("host", flag("host"));
  set("data_dir", flag("data-dir"));
  set("advertise_host", flag("advertise-host"));
  set("tls_cert", flag("tls-cert"));
  set("tls_key", flag("tls-key"));
  const port = flag("port");
  if (port !== undefined) overrides.port = parsePort("--port", port, 0);
  const advertisePort = flag("advertise-port");
  if (advertisePort !== undefined) {
    overrides.advertise_port = parsePort("--advertise-port", advertisePort, 1);
  }
  let yamlText: string | undefined;
  if (file !== undefined) {
    try {
      yamlText = await Deno.readTextFile(file);
    } catch (e) {
      throw new StartupError(
        `Cannot read ${fileFlag} file "${file}": ${(e as Error).message}; check the path.`,
      );
    }
  }
  return buildConfig(
    yamlText,
    overrides,
    file !== undefined ? `${fileFlag} file "${file}"` : "configuration",
  );
}

function logger(level = "info", format: string | undefined): Logger {
  if (!isLogLevel(level)) {
    throw new StartupError(`Invalid --log-level "${level}": expected debug, info, warn or error`);
  }
  if (format !== undefined && !isLogFormat(format)) {
    throw new StartupError(`Invalid --log-format "${format}": expected text or json`);
  }
  return createLogger(level, undefined, undefined, (format as LogFormat) ?? defaultLogFormat());
}

/** Bundles the browser client now, so the first page request finds it ready. */
function warmBrowserClient(log: Logger): void {
  browserBundle().then(
    () => log.debug("browser client ready"),
    (e) => log.error("browser client could not be built", { error: (e as Error).message }),
  );
}

/** Resolves on SIGINT or SIGTERM; SIGUSR2 logs the heap meanwhile. */
async function untilSignal(log: Logger): Promise<void> {
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop.resolve());
  }
  // The C heap is trimmed now and then, and before a report, so that it shows what the
  // server holds rather than what malloc keeps cached.
  const trim = mallocTrimmer();
  const trimming = trim && setInterval(trim, MEMORY_TRIM_INTERVAL_MS);
  stop.promise.then(() => clearInterval(trimming));
  // Memory: SIGUSR2 logs the live JS heap, after a full GC when run with
  // --v8-flags=--expose-gc (bench scenario e uses it instead of the inspector, whose event
  // stream costs a quarter of the JS thread under a join storm).
  if (Deno.build.os !== "windows") {
    const gc = (globalThis as { gc?: () => void }).gc;
    Deno.addSignalListener("SIGUSR2", () => {
      gc?.();
      trim?.();
      const { heapUsed, heapTotal, rss } = Deno.memoryUsage();
      log.info("gc", {
        collected: gc !== undefined,
        heap_used: heapUsed,
        heap_total: heapTotal,
        rss,
      });
    });
  }
  await stop.promise;
}
