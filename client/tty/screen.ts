/**
 * The interactive screen: a transcript that scrolls, a few status rows (transfers in progress),
 * and the input line at the bottom. Every line printed goes above the status rows and the input,
 * which are then drawn again with what was being typed, so incoming messages never corrupt it.
 * Output uses CR LF: in raw mode the terminal does not add the carriage return itself.
 * @module
 */
import stringWidth from "string-width";
import { type EditOutcome, graphemes, LineEditor } from "./line_editor.ts";
import { parseKeys } from "./keys.ts";
import type { Terminal } from "./terminal.ts";

const CLEAR_ROW = "\r\x1b[K";
const UP = "\x1b[1A";

/** Why the input ended. */
export type InputEnd = "interrupt" | "eof";

/** Cuts `text` to at most `columns` terminal columns. */
export function fit(text: string, columns: number): string {
  if (stringWidth(text) <= columns) return text;
  let out = "";
  let used = 0;
  for (const g of graphemes(text)) {
    const w = stringWidth(g);
    if (used + w > columns - 1) break;
    out += g;
    used += w;
  }
  return out + "…";
}

/** The screen of the interactive client. */
export class Screen {
  readonly editor = new LineEditor();
  #status = new Map<string, string>();
  /** Status rows drawn below the transcript right now. */
  #drawnRows = 0;
  /** The last transcript line, while it is still the one right above the status rows. */
  #last?: { id: string; width: number };
  #running = false;

  constructor(private readonly term: Terminal, private prompt = "> ") {}

  /**
   * Takes over the terminal and reads keys until Ctrl-C, Ctrl-D on an empty line, or the end of
   * input; `onLine` gets every line entered. Resolves with why it ended, the terminal restored.
   */
  async run(onLine: (line: string) => void): Promise<InputEnd> {
    this.term.setRaw(true);
    this.#running = true;
    this.#draw();
    try {
      for (;;) {
        const chunk = await this.term.read();
        if (chunk === undefined || !this.#running) return "eof";
        for (const key of parseKeys(chunk)) {
          const end = this.#outcome(this.editor.apply(key), onLine);
          if (end) return end;
        }
      }
    } finally {
      this.stop();
    }
  }

  /** Clears the status rows and the input line and gives the terminal back. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.term.write(this.#clear());
    this.term.setRaw(false);
  }

  /** Prints a transcript line (or several, separated by \n); `id` lets {@linkcode update} find it. */
  print(text: string, id = ""): void {
    const rows = text.split("\n");
    const body = rows.map((r) => r + "\r\n").join("");
    if (!this.#running) return this.term.write(body);
    this.term.write(this.#clear() + body + this.#frame());
    const width = stringWidth(rows.at(-1)!);
    this.#last = rows.length === 1 && id ? { id, width } : undefined;
  }

  /**
   * Shows a new version of the line printed with `id`: in place while it is still the last line
   * and fits on one row, else as a new line.
   */
  update(id: string, text: string): void {
    const columns = this.term.columns();
    const width = stringWidth(text);
    if (
      !this.#running || this.#last?.id !== id || this.#last.width >= columns || width >= columns
    ) return this.print(text, id);
    this.term.write(this.#clear() + UP + CLEAR_ROW + text + "\r\n" + this.#frame());
    this.#last = { id, width };
  }

  /** Sets (or, with undefined, removes) the status row `key`, drawn between transcript and input. */
  status(key: string, text: string | undefined): void {
    if (text === undefined) this.#status.delete(key);
    else this.#status.set(key, text);
    if (this.#running) this.term.write(this.#clear() + this.#frame());
  }

  /** Changes the prompt (it shows the connection state). */
  setPrompt(prompt: string): void {
    this.prompt = prompt;
    if (this.#running) this.term.write(this.#clear() + this.#frame());
  }

  #outcome(outcome: EditOutcome, onLine: (line: string) => void): InputEnd | undefined {
    switch (outcome.kind) {
      case "submit":
        // The entered line stays in the transcript, as typed.
        this.print(this.prompt + outcome.line);
        onLine(outcome.line);
        return;
      case "interrupt":
      case "eof":
        return outcome.kind;
      default:
        this.#draw();
    }
  }

  #draw(): void {
    this.term.write(this.#clear() + this.#frame());
  }

  /** Moves to the first status row, clearing every row of the bottom area on the way. */
  #clear(): string {
    let out = CLEAR_ROW;
    for (; this.#drawnRows > 0; this.#drawnRows--) out += UP + CLEAR_ROW;
    return out;
  }

  /** The status rows and the input line, the cursor put where the editor has it. */
  #frame(): string {
    const columns = this.term.columns();
    let out = "";
    for (const row of this.#status.values()) out += fit(row, columns - 1) + "\r\n";
    this.#drawnRows = this.#status.size;
    const prompt = fit(this.prompt, Math.floor(columns / 2));
    const view = this.editor.view(columns - stringWidth(prompt));
    const column = stringWidth(prompt) + view.cursorColumn;
    return out + prompt + view.text + "\r" + (column > 0 ? `\x1b[${column}C` : "");
  }
}
