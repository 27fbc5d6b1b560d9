/**
 * Logs on stderr, filtered by level: one JSON object per line for machines (the default when
 * stderr is not a terminal), or one human-readable line (`14:02:07.123 INFO  listening url=...`)
 * on a terminal. Never pass private keys or plaintext here.
 * @module
 */

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** How a log line is written. */
export type LogFormat = "json" | "text";

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger writing lines at or above `level` to `write` (stderr by default). */
export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => console.error(line),
  now: () => number = Date.now,
  format: LogFormat = "json",
): Logger {
  const line = format === "json" ? jsonLine : textLine;
  const emit = (at: LogLevel) => (message: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[at] < ORDER[level]) return;
    write(line(now(), at, message, fields));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** Text on a terminal, JSON for anything else (a file, a pipe, journald). */
export function defaultLogFormat(): LogFormat {
  return Deno.stderr.isTerminal() ? "text" : "json";
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger("error", () => {});

/** True for a valid level name. */
export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(ORDER, value);
}

/** True for a valid format name. */
export function isLogFormat(value: string): value is LogFormat {
  return value === "json" || value === "text";
}

function jsonLine(at: number, level: LogLevel, message: string, fields: object): string {
  return JSON.stringify({ time: new Date(at).toISOString(), level, message, ...fields });
}

/** `HH:MM:SS.mmm LEVEL message key=value ...`, local time; values with spaces are quoted. */
function textLine(
  at: number,
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
): string {
  const t = new Date(at);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const time = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${
    pad(t.getMilliseconds(), 3)
  }`;
  const parts = [time, level.toUpperCase().padEnd(5), message];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    parts.push(`${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`);
  }
  return parts.join(" ");
}
