/**
 * Asking for the keystore's passphrase: typed unseen (raw mode, nothing echoed), asked twice when
 * a new keystore is sealed, and refused when shorter than the browser client accepts.
 * @module
 */
import { PASSPHRASE_LENGTH_MIN } from "../../protocol/limits.ts";
import { type Key, parseKeys } from "./keys.ts";
import type { Terminal } from "./terminal.ts";

/** The user pressed Ctrl-C (or closed the input) at the prompt. */
export class PassphraseAborted extends Error {
  constructor() {
    super("Aborted: no passphrase given.");
  }
}

/** A passphrase for a new keystore was refused (too short, or the repeat differed). */
export class PassphraseRefused extends Error {}

/** Why a passphrase for a new keystore is refused; undefined when it is fine. */
export function newPassphraseProblem(passphrase: string): string | undefined {
  if ([...passphrase].length < PASSPHRASE_LENGTH_MIN) {
    return `The passphrase needs at least ${PASSPHRASE_LENGTH_MIN} characters: it protects ` +
      "your key, which the server keeps a sealed copy of.";
  }
}

/** Keys read from a terminal, handed out one at a time (keys typed ahead wait their turn). */
export class KeyQueue {
  #pending: Key[] = [];

  constructor(private readonly term: Terminal) {}

  /** The next key; undefined at the end of input. */
  async next(): Promise<Key | undefined> {
    while (this.#pending.length === 0) {
      const chunk = await this.term.read();
      if (chunk === undefined) return undefined;
      this.#pending.push(...parseKeys(chunk));
    }
    return this.#pending.shift();
  }
}

/**
 * Reads one line without echoing it. Backspace and Ctrl-U edit; Ctrl-C or Ctrl-D aborts. The
 * terminal leaves raw mode whatever happens.
 */
export async function readHidden(
  term: Terminal,
  prompt: string,
  keys = new KeyQueue(term),
): Promise<string> {
  // Raw before the prompt shows: keys typed as soon as it appears are never echoed.
  term.setRaw(true);
  term.write(prompt);
  let typed: string[] = [];
  try {
    for (;;) {
      const key = await keys.next();
      if (key === undefined || key.key === "interrupt" || key.key === "eof") {
        throw new PassphraseAborted();
      }
      if (key.key === "text") typed.push(...key.text);
      else if (key.key === "backspace") typed.pop();
      else if (key.key === "kill-line") typed = [];
      else if (key.key === "enter") return typed.join("");
    }
  } finally {
    term.setRaw(false);
    term.write("\r\n");
  }
}

/**
 * Asks for the passphrase of a new keystore until it is long enough and typed the same twice
 * (at most `tries` times); throws with the last reason when it never is.
 */
export async function askNewPassphrase(term: Terminal, tries = 3): Promise<string> {
  const keys = new KeyQueue(term);
  let problem = "";
  for (let i = 0; i < tries; i++) {
    const first = await readHidden(term, "New passphrase (not shown): ", keys);
    problem = newPassphraseProblem(first) ?? "";
    if (!problem) {
      const again = await readHidden(term, "Repeat it: ", keys);
      if (again === first) return first;
      problem = "The two passphrases differ.";
    }
    term.write(`${problem}\r\n`);
  }
  throw new PassphraseRefused(`No keystore created: ${problem}`);
}
