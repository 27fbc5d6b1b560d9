/**
 * Server configuration: defaults, the YAML bootstrap file (spec §8.1) and command-line flags,
 * in that order of precedence (flags win). Validated at start: a bad key or value refuses to
 * start with a clear error; fewer than 3 introducers only warns (the spec says MUST have 3).
 * @module
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parsePublicKey } from "../crypto/key_import.ts";
import {
  HEARTBEAT_INTERVAL_MS,
  LINK_TIMEOUT_MS,
  RECONNECT_BACKOFF_BASE_MS,
  RECONNECT_BACKOFF_MAX_MS,
} from "../protocol/limits.ts";

/** A pinned server: where to reach it and the key it must prove. */
export interface PinnedServer {
  host: string;
  port: number;
  /** base64url DER SPKI, normalised. */
  pubkey: string;
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
}

const server = z.object({
  host: z.string().min(1),
  port: z.int().min(1).max(65535),
  pubkey: z.string().min(1),
});

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
}).strict();

/** The configuration file's shape, for flags that override it. */
export type ConfigOverrides = Partial<
  Pick<ServerConfig, "host" | "port" | "data_dir" | "advertise_host" | "advertise_port">
>;

/** Thrown for a configuration that must not start. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Builds the configuration from an optional YAML text and flag overrides; throws {@linkcode ConfigError}. */
export function buildConfig(
  yamlText: string | undefined,
  overrides: ConfigOverrides,
  source = "bootstrap file",
): { config: ServerConfig; warnings: string[] } {
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
  const f = file.data;
  const pin = (list: z.infer<typeof server>[] | undefined, name: string): PinnedServer[] =>
    (list ?? []).map((entry, i) => {
      const key = parsePublicKey(entry.pubkey);
      if (!key.ok) {
        throw new ConfigError(
          `Cannot use ${source}: ${name}[${i}] (${entry.host}:${entry.port}) has a bad pubkey: ${key.reason}`,
        );
      }
      return { host: entry.host, port: entry.port, pubkey: key.value.spki };
    });
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
  };
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
  if (yamlText !== undefined && config.bootstrap_servers.length < 3) {
    warnings.push(
      `${source} lists ${config.bootstrap_servers.length} bootstrap server(s); SOCP requires at least 3 so that joining survives an introducer being down`,
    );
  }
  if (config.bootstrap_servers.length === 0) {
    warnings.push(
      "no bootstrap servers: this server forms its own network and acts as an introducer",
    );
  }
  return { config, warnings };
}
