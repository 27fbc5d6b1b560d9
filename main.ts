/**
 * Command-line entry point: `serve`, `client`, `identity`, `replay`, `probe`, `status`. Builds the real world
 * (clock, randomness, SQLite, sockets) and hands it to the actors.
 * @module
 */
import { parseArgs } from "node:util";
import { defaultBackend } from "./crypto/mod.ts";
import { createLogger, isLogLevel } from "./lib/log.ts";
import { systemRandom } from "./lib/world.ts";
import { startServer } from "./actors/server.ts";
import { libCryptoCacheDir } from "./crypto/libcrypto_cache.ts";
import { fetchFastLibCrypto } from "./crypto/libcrypto_fetch.ts";
import { FAST_LIBCRYPTO } from "./crypto/libcrypto_pin.ts";
import { buildConfig, ConfigError, type ConfigOverrides } from "./actors/config.ts";
import { loadOrCreateIdentity } from "./store/identity.ts";
import { runClient } from "./client/main.ts";
import { runReplay } from "./actors/replay_cli.ts";
import { runProbe } from "./probe/main.ts";
import { runStatus } from "./actors/status.ts"; // observability (issue 7)

const USAGE = `SOCP v1.3 server and client (Deno)

Usage: deno run -A main.ts <command> [options]

Commands:
  serve      Run a server
  client     Run the terminal chat client
  identity   Print the server id and public key of a data dir
  replay     Re-run a server's journal: what arrived, what was decided, and why
  probe      Check any SOCP v1.3 server for conformance and the spec's §16 weaknesses
  status     Show a running server's peers, links, backoff and users per server
  libcrypto  Fetch (or build) and check the current OpenSSL the server signs with

Run "deno run -A main.ts <command> --help" for the options of a command.
`;

const SERVE_USAGE = `Usage: deno run -A main.ts serve [options]

Runs a SOCP server: users and servers connect to ws://HOST:PORT (wss:// with --tls-cert).

Options (flags override the bootstrap file):
  --host HOST            Address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --port N               Port to listen on (default 8765; 0 picks a free one)
  --data-dir DIR         Where identity and database live (default ./data)
  --bootstrap FILE       YAML file with bootstrap_servers (host, port, pubkey) to join a
                         network through, and optionally any setting below (see README)
  --advertise-host HOST  Address other servers use to reach us (default: --host, or 127.0.0.1)
  --advertise-port N     Port other servers use to reach us (default: the listening port)
  --tls-cert FILE        Serve wss:// with this PEM certificate chain (with --tls-key)
  --tls-key FILE         PEM private key of --tls-cert
  --log-level LEVEL      debug | info | warn | error (default info)
  --libcrypto PATH       The libcrypto to sign with: a file, or "system" (default: the
                         current OpenSSL in the user's cache when checked there, else the
                         system's; also $SOCP_LIBCRYPTO)
  -h, --help             Show this help

Without --bootstrap the server forms its own network and acts as an introducer.
`;

const IDENTITY_USAGE = `Usage: deno run -A main.ts identity [--data-dir DIR]

Prints {"server_id": ..., "pubkey": ...} (base64url DER SPKI) of the server that owns DIR,
creating the identity if it does not exist yet (default DIR: ./data).
`;

/** Runs one command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "serve":
      return await serve(rest);
    case "identity":
      return await identity(rest);
    case "client":
      return await runClient(rest);
    case "replay":
      return await runReplay(rest);
    case "probe":
      return await runProbe(rest);
    case "status": // observability (issue 7)
      return await runStatus(rest);
    case "libcrypto":
      return await libcrypto(rest);
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

async function serve(args: string[]): Promise<number> {
  const values = options(() =>
    parseArgs({
      args,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "data-dir": { type: "string" },
        bootstrap: { type: "string" },
        "advertise-host": { type: "string" },
        "advertise-port": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "log-level": { type: "string", default: "info" },
        libcrypto: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values, SERVE_USAGE);
  if (!values) return 2;
  if (values.help) return (console.log(SERVE_USAGE), 0);
  const port = (name: string, text: string | undefined, min: number) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > 65535) {
      throw new ConfigError(`Invalid --${name} "${text}": expected a number from ${min} to 65535`);
    }
    return n;
  };
  const level = String(values["log-level"]);
  if (!isLogLevel(level)) {
    console.error(`Invalid --log-level "${level}": expected debug, info, warn or error`);
    return 2;
  }
  const log = createLogger(level);
  let config;
  try {
    const overrides: ConfigOverrides = {};
    if (values.host !== undefined) overrides.host = values.host;
    const p = port("port", values.port, 0);
    if (p !== undefined) overrides.port = p;
    if (values["data-dir"] !== undefined) overrides.data_dir = values["data-dir"];
    if (values["advertise-host"] !== undefined) overrides.advertise_host = values["advertise-host"];
    const ap = port("advertise-port", values["advertise-port"], 1);
    if (ap !== undefined) overrides.advertise_port = ap;
    if (values["tls-cert"] !== undefined) overrides.tls_cert = values["tls-cert"];
    if (values["tls-key"] !== undefined) overrides.tls_key = values["tls-key"];
    let yamlText: string | undefined;
    if (values.bootstrap !== undefined) {
      try {
        yamlText = await Deno.readTextFile(values.bootstrap);
      } catch (e) {
        throw new ConfigError(
          `Cannot read bootstrap file "${values.bootstrap}": ${(e as Error).message}`,
        );
      }
    }
    const built = buildConfig(
      yamlText,
      overrides,
      values.bootstrap ? `bootstrap file "${values.bootstrap}"` : "configuration",
    );
    config = built.config;
    for (const warning of built.warnings) log.warn(warning);
    for (const note of built.notes) log.info(note);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return 2;
  }
  let server;
  try {
    server = await startServer({ config, log, libcrypto: values.libcrypto });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message); // e.g. a TLS file that cannot be read
    return 2;
  }
  const stop = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => stop.resolve());
  }
  // Memory: SIGUSR2 logs the live JS heap, after a full GC when run with
  // --v8-flags=--expose-gc (bench scenario e uses it instead of the inspector, whose event
  // stream costs a quarter of the JS thread under a join storm).
  if (Deno.build.os !== "windows") {
    const gc = (globalThis as { gc?: () => void }).gc;
    Deno.addSignalListener("SIGUSR2", () => {
      gc?.();
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
  await server.close();
  return 0;
}

const LIBCRYPTO_USAGE = `Usage: deno run -A main.ts libcrypto [--no-build]

Puts OpenSSL ${FAST_LIBCRYPTO.version} (about 2.4x faster RSA-4096 signing than OpenSSL 3.0 on CPUs
with AVX-512 IFMA) into ${libCryptoCacheDir()}: Debian's binary where this system's glibc
loads it, else built from Debian's copy of the source (cc, make and perl; a few minutes, once).
Both are pinned by SHA-256 and the library must pass known-answer checks before use. Without
it the server signs with the system libcrypto. "deno task start" and "deno task test" run this
first; it does nothing once the library is there. Always exits 0 unless the usage is wrong.

Options:
  --no-build   Only try Debian's binary
  -h, --help   Show this help
`;

/** `main.ts libcrypto`: fetch, check and cache the fast libcrypto; one line of outcome. */
async function libcrypto(args: string[]): Promise<number> {
  const values = options(() =>
    parseArgs({
      args,
      options: { "no-build": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }).values, LIBCRYPTO_USAGE);
  if (!values) return 2;
  if (values.help) return (console.log(LIBCRYPTO_USAGE), 0);
  const say = (line: string) => console.error(`libcrypto: ${line}`);
  const result = await fetchFastLibCrypto({ say, build: !values["no-build"] });
  if (!result.ok) say(`not available (${result.reason}); the server signs with the system one`);
  else if (result.fresh) say(`OpenSSL ${result.record.version} checked and cached: ${result.path}`);
  return 0;
}

async function identity(args: string[]): Promise<number> {
  const values = options(
    () =>
      parseArgs({
        args,
        options: {
          "data-dir": { type: "string", default: "./data" },
          help: { type: "boolean", short: "h" },
        },
      }).values,
    IDENTITY_USAGE,
  );
  if (!values) return 2;
  if (values.help) return (console.log(IDENTITY_USAGE), 0);
  const id = await loadOrCreateIdentity(
    String(values["data-dir"]),
    defaultBackend(),
    systemRandom,
    (m) => console.error(m),
  );
  console.log(JSON.stringify({ server_id: id.server_id, pubkey: id.key.publicKey.spki }));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
