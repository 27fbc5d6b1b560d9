/**
 * A terminal client driven through a real pseudo-terminal: util-linux `script` gives the child a
 * pty (100 columns), so it sees a terminal (raw mode, no echo, line editing) exactly as a
 * person's shell would give it. Keys are written to `script`'s stdin; what the terminal shows is
 * rebuilt by a headless xterm, so tests read the screen a person would see (a redrawn input line
 * replaces the old one) and, separately, every byte the program wrote.
 * @module
 */
import { join } from "node:path";
import xterm from "@xterm/headless";
import { killChild, ROOT } from "./processes.ts";

/** Columns of the pseudo-terminal. */
export const PTY_COLUMNS = 100;

/** A program running on a pseudo-terminal. */
export interface PtyProcess {
  /** Everything written to the terminal so far, escape sequences included. */
  raw(): string;
  /** The screen and its scrollback, one string per line (wrapped rows joined). */
  lines(): Promise<string[]>;
  /** Types `keys` (as is: "\r" is Enter, "\x03" Ctrl-C, "\x1b[A" up). */
  type(keys: string): Promise<void>;
  /**
   * Waits until the lines from `fromLine` on, joined by "\n", match; returns the index of the
   * line after the one where the match ends (a mark for later waits).
   */
  waitFor(pattern: RegExp, timeoutMs?: number, fromLine?: number): Promise<number>;
  /** Waits for the exit code. */
  status(timeoutMs?: number): Promise<number>;
  kill(): Promise<void>;
}

/** Quotes an argument for `sh -c`. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Runs `deno run -A main.ts client ARGS` on a pty. */
export function startPtyClient(args: string[]): PtyProcess {
  const command = [Deno.execPath(), "run", "-A", join(ROOT, "main.ts"), "client", ...args]
    .map(shellQuote).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", `stty cols ${PTY_COLUMNS} rows 30; exec ${command}`, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TERM: "xterm" },
  }).spawn();
  const screen = new xterm.Terminal({
    cols: PTY_COLUMNS,
    rows: 30,
    scrollback: 10_000,
    allowProposedApi: true,
  });
  let output = "";
  let shown = Promise.resolve();
  let wake = () => {};
  const reader = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      shown = shown.then(() => new Promise<void>((resolve) => screen.write(chunk, resolve)));
      wake();
    }
  })();
  void (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) output += chunk;
  })();
  const writer = child.stdin.getWriter();
  const lines = async () => {
    await shown;
    const buffer = screen.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i)!;
      const text = line.translateToString(true);
      if (line.isWrapped && out.length > 0) out[out.length - 1] += text;
      else out.push(text);
    }
    while (out.length > 0 && out.at(-1) === "") out.pop();
    return out;
  };
  const waitFor = async (pattern: RegExp, timeoutMs = 15_000, fromLine = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = (await lines()).slice(fromLine).join("\n");
      const match = pattern.exec(text);
      if (match) {
        return fromLine + text.slice(0, match.index + match[0].length).split("\n").length;
      }
      if (Date.now() > deadline) {
        throw new Error(`no ${pattern} within ${timeoutMs} ms; the terminal shows:\n${text}`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  const status = async (timeoutMs = 15_000) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(async () => {
        reject(new Error(`no exit within ${timeoutMs} ms:\n${(await lines()).join("\n")}`));
      }, timeoutMs);
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
    lines,
    type: (keys) => writer.write(new TextEncoder().encode(keys)),
    waitFor,
    status,
    async kill() {
      // The client goes with it: the pty hangs up.
      await killChild(child, writer);
      await reader.catch(() => {});
      screen.dispose();
    },
  };
}
