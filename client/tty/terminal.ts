/**
 * The terminal as the client's shell sees it: text out, keystrokes in, raw mode on and off.
 * One interface so the screen and the passphrase prompt can be driven by tests without a
 * terminal; {@linkcode denoTerminal} is the real one.
 * @module
 */

/** A terminal. */
export interface Terminal {
  /** Writes text as is (escape sequences included). */
  write(text: string): void;
  /** Width in columns. */
  columns(): number;
  /** Raw mode: keys arrive one by one, unechoed, Ctrl-C as a key rather than a signal. */
  setRaw(on: boolean): void;
  /** The next chunk of typed text (decoded); undefined at end of input. */
  read(): Promise<string | undefined>;
}

/** Deno's stdin and stdout; both must be terminals. */
export function denoTerminal(): Terminal {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  return {
    write(text) {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) {
        done += Deno.stdout.writeSync(bytes.subarray(done));
      }
    },
    columns() {
      try {
        return Deno.consoleSize().columns || 80;
      } catch {
        return 80;
      }
    },
    setRaw(on) {
      Deno.stdin.setRaw(on);
    },
    async read() {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return undefined;
      return decoder.decode(buffer.subarray(0, n), { stream: true });
    },
  };
}
