/**
 * A terminal client driven through a real pseudo-terminal: util-linux `script` gives the child a
 * pty, so it sees a terminal (raw mode, no echo, line editing) exactly as a person's shell would
 * give it. Keys are written to `script`'s stdin; everything the terminal showed is collected.
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./processes.ts";

/** A program running on a pseudo-terminal. */
export interface PtyProcess {
  /** Everything written to the terminal so far, escape sequences included. */
  raw(): string;
  /** The same, escape sequences and carriage returns removed. */
  text(): string;
  /** Types `keys` (as is: "\r" is Enter, "\x03" Ctrl-C). */
  type(keys: string): Promise<void>;
  /** Waits until the text shown (from `from` on) matches; the match's end offset. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: number): Promise<number>;
  /** Waits for the exit code. */
  status(timeoutMs?: number): Promise<number>;
  kill(): Promise<void>;
}

/** Removes ANSI escape sequences and carriage returns. */
export function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r/g, "");
}

/** Quotes an argument for `sh -c`. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs `deno run -A main.ts client ARGS` on a pty with the environment `env`. */
export function startPtyClient(args: string[], env: Record<string, string> = {}): PtyProcess {
  const command = [Deno.execPath(), "run", "-A", join(ROOT, "main.ts"), "client", ...args]
    .map(shellQuote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TERM: "xterm", ...env },
  }).spawn();
  let output = "";
  let wake = () => {};
  const reader = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      wake();
    }
  })();
  void (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) output += chunk;
  })();
  const writer = child.stdin.getWriter();
  const text = () => plain(output);
  const waitFor = async (pattern: RegExp, timeoutMs = 15_000, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const shown = text().slice(from);
      const match = pattern.exec(shown);
      if (match) return from + match.index + match[0].length;
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} within ${timeoutMs} ms; the terminal shows:\n${shown}`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  const status = async (timeoutMs = 15_000) => {
    let timer: number | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no exit within ${timeoutMs} ms:\n${text()}`)),
        timeoutMs,
      );
    });
    try {
      const { code } = await Promise.race([child.status, timeout]);
      await reader;
      return code;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    raw: () => output,
    text,
    type: (keys) => writer.write(new TextEncoder().encode(keys)),
    waitFor,
    status,
    async kill() {
      // The client goes with it: the pty hangs up.
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await writer.close().catch(() => {});
      await child.status;
      await reader.catch(() => {});
    },
  };
}
