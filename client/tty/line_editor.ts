/**
 * The input line of the terminal client, as pure state: the text being typed, the cursor, and
 * the history of lines sent. Keys go in, an outcome comes out; drawing is the screen's job.
 * The buffer is held as grapheme clusters so the cursor never lands inside an accent or emoji.
 *
 * Hand-written on purpose: node:readline edits a line but has no public way to print above the
 * input and draw it again (and would have to be muted for the passphrase), and the maintained
 * npm prompt libraries (@inquirer/*, prompts, enquirer) ask one question and return, where a
 * chat needs an input line that stays while messages arrive. Column widths come from the
 * well-kept `string-width`.
 * @module
 */
import stringWidth from "string-width";
import type { Key } from "./keys.ts";

/** What a key did. */
export type EditOutcome =
  | { kind: "edited" }
  | { kind: "submit"; line: string }
  | { kind: "interrupt" }
  | { kind: "eof" }
  | { kind: "redraw" };

/** The visible part of the line: what to draw after the prompt, and the cursor's column in it. */
export interface LineView {
  text: string;
  cursorColumn: number;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Splits text into grapheme clusters. */
export function graphemes(text: string): string[] {
  return [...segmenter.segment(text)].map((s) => s.segment);
}

/** A line editor with history. */
export class LineEditor {
  #chars: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  /** Position in the history while browsing it; `#history.length` is the line being typed. */
  #browse = 0;
  #draft: string[] = [];

  constructor(private readonly historyMax = 500) {}

  /** The text typed so far. */
  get text(): string {
    return this.#chars.join("");
  }

  /** The cursor, in grapheme clusters from the start. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Applies one key. */
  apply(key: Key): EditOutcome {
    switch (key.key) {
      case "text":
        return this.#insert(graphemes(key.text));
      case "enter":
        return this.#submit();
      case "interrupt":
        return { kind: "interrupt" };
      case "eof":
        if (this.#chars.length === 0) return { kind: "eof" };
        return this.#delete(this.#cursor);
      case "redraw":
        return { kind: "redraw" };
      case "backspace":
        return this.#cursor === 0 ? { kind: "edited" } : this.#delete(--this.#cursor);
      case "delete":
        return this.#delete(this.#cursor);
      case "kill-line":
        this.#chars.splice(0, this.#cursor);
        return this.#moveTo(0);
      case "up":
        return this.#recall(this.#browse - 1);
      case "down":
        return this.#recall(this.#browse + 1);
    }
    return this.#moveTo(
      { left: this.#cursor - 1, right: this.#cursor + 1, home: 0, end: this.#chars.length }[
        key.key
      ],
    );
  }

  /**
   * The part of the line that fits in `columns` terminal columns, scrolled so the cursor stays
   * visible (the line never wraps, so a redraw only ever touches one row).
   */
  view(columns: number): LineView {
    const width = Math.max(columns, 1);
    const widths = this.#chars.map((c) => stringWidth(c));
    let start = 0;
    let before = widths.slice(0, this.#cursor).reduce((a, b) => a + b, 0);
    // Keep one column free for the cursor at the end of the line.
    while (before >= width && start < this.#cursor) before -= widths[start++]!;
    let end = start;
    let used = 0;
    while (end < this.#chars.length && used + widths[end]! < width) used += widths[end++]!;
    return { text: this.#chars.slice(start, end).join(""), cursorColumn: before };
  }

  #insert(chars: string[]): EditOutcome {
    this.#chars.splice(this.#cursor, 0, ...chars);
    this.#cursor += chars.length;
    return { kind: "edited" };
  }

  #delete(at: number): EditOutcome {
    this.#chars.splice(at, 1);
    return { kind: "edited" };
  }

  #moveTo(position: number): EditOutcome {
    this.#cursor = Math.min(Math.max(position, 0), this.#chars.length);
    return { kind: "edited" };
  }

  #submit(): EditOutcome {
    const line = this.text;
    if (line.trim() !== "" && this.#history.at(-1) !== line) {
      this.#history.push(line);
      if (this.#history.length > this.historyMax) this.#history.shift();
    }
    this.#browse = this.#history.length;
    this.#chars = [];
    this.#cursor = 0;
    return { kind: "submit", line };
  }

  #recall(index: number): EditOutcome {
    if (index < 0 || index > this.#history.length) return { kind: "edited" };
    if (this.#browse === this.#history.length) this.#draft = this.#chars;
    this.#browse = index;
    this.#chars = index === this.#history.length ? this.#draft : graphemes(this.#history[index]!);
    this.#cursor = this.#chars.length;
    return { kind: "edited" };
  }
}
