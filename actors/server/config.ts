/**
 * Server configuration: defaults, the YAML bootstrap file (spec §8.1) and command-line flags,
 * in that order of precedence (flags win). Validated at start: a bad key or value refuses to
 * start with a clear error; fewer than 3 introducers only warns (the spec says MUST have 3).
 * @module
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parsePublicKey } from "../../crypto/key_import.ts";
import { StartupError } from "../../lib/startup_error.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  LINK_TIMEOUT_MS,
  RECONNECT_BACKOFF_BASE_MS,
  RECONNECT_BACKOFF_MAX_MS,
} from "../../protocol/limits.ts";
import { DEFAULT_LIMITS, type Limits } from "../../protocol/limits.ts";

/** A pinned server: where to reach it and the key it must prove. */
export interface PinnedServer {
  host: string;
  port: number;
  /** base64url DER SPKI, normalised. */
  pubkey: string;
  /** Dial it with wss:// (TLS); absent means ws://. */
  tls?: boolean;
}
/** TLS (YAML `tls:`, or `--tls-cert`/`--tls-key`): file paths, PEM. */
export interface TlsConfig {
  /** Certificate chain to serve wss:// with (with `key_file`). */
  cert_file?: string;
  key_file?: string;
  /**
   * Extra CA certificates to trust when dialling wss:// peers (a self-signed test CA). The
   * system's roots are always trusted; verification is never turned off.
   */
  ca_file?: string;
}

/** Everything a server runs with. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Where peers reach us (defaults to host/port; set it when listening on 0.0.0.0). */
  advertise_host: string;
  advertise_port: number | undefined;
  data_dir: string;
  bootstrap_servers: PinnedServer[];
  /** Servers trusted without being introducers (only used when `join_policy` is "pinned"). */
  pinned_servers: PinnedServer[];
  /** "open" (spec default): any server proving its key may join or link; "pinned": only pinned keys. */
  join_policy: "open" | "pinned";
  heartbeat_interval_ms: number;
  link_timeout_ms: number;
  reconnect_backoff_base_ms: number;
  reconnect_backoff_max_ms: number;
  /** Rate, size, connection and user limits. */
  limits: Limits;
  /** TLS, when configured. */
  tls: TlsConfig;
}

const server = z.object({
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  pubkey: z.string().min(1),
  tls: z.boolean().optional(),
});
const positive = z.number().positive().max(1e12);
const LIMITS = z.object({
  user_frames_per_s: positive.optional(),
  user_bytes_per_s: positive.optional(),
  server_frames_per_s: positive.optional(),
  server_bytes_per_s: positive.optional(),
  burst_s: z.number().min(0.001).max(3600).optional(),
  connections_per_ip: z.int().min(1).max(1_000_000).optional(),
  users_max: z.int().min(1).max(10_000_000).optional(),
  // A frame must hold at least a USER_HELLO with a PEM key; above 16 MiB is not a chat frame.
  user_frame_bytes_max: z.int().min(4096).max(16 * 1024 * 1024).optional(),
  server_frame_bytes_max: z.int().min(4096).max(16 * 1024 * 1024).optional(),
}).strict();
const TLS = z.object({
  cert_file: z.string().min(1).optional(),
  key_file: z.string().min(1).optional(),
  ca_file: z.string().min(1).optional(),
}).strict();

const FILE = z.object({
  host: z.string().min(1).optional(),
  port: z.int().min(0).max(65535).optional(),
  advertise_host: z.string().min(1).optional(),
  advertise_port: z.int().min(1).max(65535).optional(),
  data_dir: z.string().min(1).optional(),
  bootstrap_servers: z.array(server).optional(),
  pinned_servers: z.array(server).optional(),
  join_policy: z.enum(["open", "pinned"]).optional(),
  heartbeat_interval_ms: z.int().min(10).optional(),
  link_timeout_ms: z.int().min(30).optional(),
  reconnect_backoff_base_ms: z.int().min(1).optional(),
  reconnect_backoff_max_ms: z.int().min(1).optional(),
  limits: LIMITS.optional(),
  tls: TLS.optional(),
}).strict();

/** The configuration file's shape, for flags that override it. */
export type ConfigOverrides =
  & Partial<
    Pick<ServerConfig, "host" | "port" | "data_dir" | "advertise_host" | "advertise_port">
  >
  // `--tls-cert`, `--tls-key`, and limits set by code (tests, benchmarks).
  & { tls_cert?: string; tls_key?: string; limits?: Partial<Limits> };

/** Thrown for a configuration that must not start. */
export class ConfigError extends StartupError {
  override name = "ConfigError";
}

/**
 * Environment variables that override the configuration file (and are overridden by flags):
 * each is the upper-case name of a flag of `serve`, prefixed `SOCP_`.
 */
export const ENV_OVERRIDES = {
  SOCP_HOST: "host",
  SOCP_PORT: "port",
  SOCP_DATA_DIR: "data_dir",
  SOCP_ADVERTISE_HOST: "advertise_host",
  SOCP_ADVERTISE_PORT: "advertise_port",
  SOCP_TLS_CERT: "tls_cert",
  SOCP_TLS_KEY: "tls_key",
} as const satisfies Record<string, keyof ConfigOverrides>;

/** Overrides from `env` (see {@linkcode ENV_OVERRIDES}); an empty variable counts as unset. */
export function envOverrides(env: (name: string) => string | undefined): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env(name);
    if (value === undefined || value === "") continue;
    if (key === "port" || key === "advertise_port") {
      overrides[key] = parsePort(name, value, key === "port" ? 0 : 1);
    } else overrides[key] = value;
  }
  return overrides;
}

/** A port number from text, or a {@linkcode ConfigError} naming where the text came from. */
export function parsePort(source: string, text: string, min: number): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < min || n > 65535) {
    throw new ConfigError(`Invalid ${source} "${text}": expected a number from ${min} to 65535`);
  }
  return n;
}

/** Builds the configuration from an optional YAML text and flag overrides; throws {@linkcode ConfigError}. */
export function buildConfig(
  yamlText: string | undefined,
  overrides: ConfigOverrides,
  source = "bootstrap file",
): { config: ServerConfig; warnings: string[]; notes: string[] } {
  const f = readFile(yamlText, source);
  const pin = (list: z.infer<typeof server>[] | undefined, name: string) =>
    pinned(list, name, source);
  const config: ServerConfig = {
    host: overrides.host ?? f.host ?? "127.0.0.1",
    port: overrides.port ?? f.port ?? 8765,
    advertise_host: overrides.advertise_host ?? f.advertise_host ?? "",
    advertise_port: overrides.advertise_port ?? f.advertise_port,
    data_dir: overrides.data_dir ?? f.data_dir ?? "./data",
    bootstrap_servers: pin(f.bootstrap_servers, "bootstrap_servers"),
    pinned_servers: pin(f.pinned_servers, "pinned_servers"),
    join_policy: f.join_policy ?? "open",
    heartbeat_interval_ms: f.heartbeat_interval_ms ?? HEARTBEAT_INTERVAL_MS,
    link_timeout_ms: f.link_timeout_ms ?? LINK_TIMEOUT_MS,
    reconnect_backoff_base_ms: f.reconnect_backoff_base_ms ?? RECONNECT_BACKOFF_BASE_MS,
    reconnect_backoff_max_ms: f.reconnect_backoff_max_ms ?? RECONNECT_BACKOFF_MAX_MS,
    limits: { ...DEFAULT_LIMITS, ...f.limits, ...overrides.limits },
    tls: { ...f.tls },
  };
  // TLS flags win over the file; cert and key go together.
  if (overrides.tls_cert !== undefined) config.tls.cert_file = overrides.tls_cert;
  if (overrides.tls_key !== undefined) config.tls.key_file = overrides.tls_key;
  if ((config.tls.cert_file === undefined) !== (config.tls.key_file === undefined)) {
    throw new ConfigError(
      `Cannot use ${source}: TLS needs both a certificate and a key (tls.cert_file and tls.key_file, or --tls-cert and --tls-key)`,
    );
  }
  if (!config.advertise_host) {
    config.advertise_host = config.host === "0.0.0.0" || config.host === "::"
      ? "127.0.0.1"
      : config.host;
  }
  if (config.link_timeout_ms <= config.heartbeat_interval_ms) {
    throw new ConfigError(
      `Cannot use ${source}: link_timeout_ms (${config.link_timeout_ms}) must exceed heartbeat_interval_ms (${config.heartbeat_interval_ms})`,
    );
  }
  const warnings: string[] = [];
  // A file that holds only settings forms its own network, which the note below says.
  const listed = config.bootstrap_servers.length;
  if (yamlText !== undefined && listed > 0 && listed < 3) {
    warnings.push(
      `${source} lists ${config.bootstrap_servers.length} bootstrap server(s); SOCP requires at least 3 so that joining survives an introducer being down`,
    );
  }
  // Not a problem, just worth saying at start.
  const notes = config.bootstrap_servers.length === 0
    ? ["no bootstrap servers: this server forms its own network and acts as an introducer"]
    : [];
  return { config, warnings, notes };
}

/** The file's settings, validated (none: every default). */
function readFile(yamlText: string | undefined, source: string): z.infer<typeof FILE> {
  let raw: unknown = {};
  if (yamlText !== undefined) {
    try {
      raw = parseYaml(yamlText) ?? {};
    } catch (e) {
      throw new ConfigError(`Cannot read ${source}: not valid YAML: ${(e as Error).message}`);
    }
  }
  const file = FILE.safeParse(raw);
  if (!file.success) {
    const issue = file.error.issues[0]!;
    throw new ConfigError(
      `Cannot read ${source}: "${issue.path.join(".") || "(top level)"}" ${issue.message}`,
    );
  }
  return file.data;
}

/** Server entries of the file with their keys parsed; a bad key refuses the file. */
function pinned(
  list: z.infer<typeof server>[] | undefined,
  name: string,
  source: string,
): PinnedServer[] {
  return (list ?? []).map((entry, i) => {
    const key = parsePublicKey(entry.pubkey);
    if (!key.ok) {
      throw new ConfigError(
        `Cannot use ${source}: ${name}[${i}] (${entry.host}:${entry.port}) has a bad pubkey: ${key.reason}`,
      );
    }
    const pin: PinnedServer = { host: entry.host, port: entry.port, pubkey: key.value.spki };
    if (entry.tls) pin.tls = true;
    return pin;
  });
}
