/**
 * A terminal for tests: keys are queued by the test, output is collected, raw mode recorded.
 * @module
 */
import type { Terminal } from "./terminal.ts";

/** A scripted terminal. */
export class FakeTerminal implements Terminal {
  output = "";
  raw = false;
  /** Every raw-mode change, in order. */
  rawChanges: boolean[] = [];
  #keys: (string | undefined)[] = [];
  #waiting?: (chunk: string | undefined) => void;

  constructor(private readonly width = 80) {}

  write(text: string): void {
    this.output += text;
  }

  columns(): number {
    return this.width;
  }

  setRaw(on: boolean): void {
    this.raw = on;
    this.rawChanges.push(on);
  }

  read(): Promise<string | undefined> {
    if (this.#keys.length > 0) return Promise.resolve(this.#keys.shift());
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** Types `chunk` (one read); undefined is the end of input. */
  type(chunk: string | undefined): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting(chunk);
    else this.#keys.push(chunk);
  }
}
