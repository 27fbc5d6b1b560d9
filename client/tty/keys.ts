/**
 * Keystrokes from a terminal in raw mode: the bytes of one read, decoded, become the keys a line
 * editor acts on. Covers the sequences xterm, the Linux console, tmux and screen send for the
 * keys we use; anything else is ignored rather than typed.
 * @module
 */

/** One keystroke. */
export type Key =
  | { key: "text"; text: string }
  | {
    key:
      | "enter"
      | "backspace"
      | "delete"
      | "left"
      | "right"
      | "up"
      | "down"
      | "home"
      | "end"
      | "kill-line"
      | "interrupt"
      | "eof"
      | "redraw";
  };

/** CSI / SS3 final sequences and what they mean. */
const SEQUENCES: Record<string, Key["key"]> = {
  "[A": "up",
  "[B": "down",
  "[C": "right",
  "[D": "left",
  "[H": "home",
  "[F": "end",
  "OA": "up",
  "OB": "down",
  "OC": "right",
  "OD": "left",
  "OH": "home",
  "OF": "end",
  "[1~": "home",
  "[7~": "home",
  "[4~": "end",
  "[8~": "end",
  "[3~": "delete",
};

/** Control characters and what they mean (emacs-style, as readline binds them). */
const CONTROLS: Record<string, Key["key"]> = {
  "\r": "enter",
  "\n": "enter",
  "\x7f": "backspace",
  "\x08": "backspace",
  "\x01": "home",
  "\x05": "end",
  "\x02": "left",
  "\x06": "right",
  "\x10": "up",
  "\x0e": "down",
  "\x15": "kill-line",
  "\x03": "interrupt",
  "\x04": "eof",
  "\x0c": "redraw",
};

/** Splits what one read of a raw terminal delivered into keys. */
export function parseKeys(input: string): Key[] {
  const keys: Key[] = [];
  let text = "";
  const flush = () => {
    if (text) keys.push({ key: "text", text });
    text = "";
  };
  for (let i = 0; i < input.length;) {
    const ch = input[i]!;
    if (ch === "\x1b") {
      flush();
      // deno-lint-ignore no-control-regex
      const match = /^\x1b(\[[0-9;]*[A-Za-z~]|O[A-Za-z])?/.exec(input.slice(i))!;
      // Modifiers (`ESC [1;5C`) are dropped: ctrl-right moves like right.
      const body = match[1]?.replace(/^\[1;\d+([A-Za-z])$/, "[$1");
      const name = body === undefined ? undefined : SEQUENCES[body];
      if (name) keys.push({ key: name } as Key);
      i += match[0].length;
      continue;
    }
    const control = CONTROLS[ch];
    if (control) {
      flush();
      // A CR LF pair (a paste, or a terminal sending both) is one enter.
      if (!(ch === "\n" && input[i - 1] === "\r")) keys.push({ key: control } as Key);
    } else if (ch >= " ") text += ch;
    i++;
  }
  flush();
  return keys;
}
