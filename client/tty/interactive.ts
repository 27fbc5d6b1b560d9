/**
 * The interactive client: the screen (or plain lines when stdin is not a terminal), the
 * transcript, the commands, and the connection's state as the core reports it: the core
 * reconnects by itself with backoff; the status row counts down to the next attempt and the
 * prompt says `(offline)` meanwhile. Runs until the user quits (/quit, Ctrl-C, Ctrl-D on an
 * empty line, or the end of piped input).
 * @module
 */
import { createInterface } from "node:readline";
import { type Clock, systemClock } from "../../lib/world.ts";
import type { ConnectionState } from "../core/events.ts";
import type { ChatSession, ClientEvent } from "../session.ts";
import { helpText } from "../render.ts";
import { command, type Shell } from "./commands.ts";
import { Screen } from "./screen.ts";
import type { Terminal } from "./terminal.ts";
import { type Sink, Transcript } from "./transcript.ts";

/** What the interactive client needs. */
export interface InteractiveOptions {
  /** Opens the session (it reports its events to `onEvent` and keeps itself connected). */
  open(onEvent: (event: ClientEvent) => void): Promise<ChatSession>;
  /** The terminal, when stdin and stdout are one; plain lines otherwise. */
  term?: Terminal;
  clock?: Clock;
}

const PROMPT = "> ";
const OFFLINE_PROMPT = "(offline) > ";
const CONNECTING_PROMPT = "(connecting) > ";

/** Lines on stdout, for a client whose stdin or stdout is not a terminal. */
const plainSink: Sink = {
  print: (text) => console.log(text),
  update: (_id, text) => console.log(text),
  status: () => {},
};

/** A wait for people: `300 ms`, `2 s`. */
export function waitText(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Math.round(ms / 1_000)} s`;
}

/** Runs the interactive client; the exit code once the user quits (1 if it never connected). */
export async function runInteractive(o: InteractiveOptions): Promise<number> {
  const screen = o.term ? new Screen(o.term, CONNECTING_PROMPT) : undefined;
  const sink = screen ?? plainSink;
  const clock = o.clock ?? systemClock;
  let session: ChatSession | undefined;
  const done = Promise.withResolvers<number>();
  let commands: CommandQueue | undefined;
  const link = new LinkView(transcript(), sink, clock, screen);
  function transcript() {
    return new Transcript(sink, clock, (id) => session?.label(id) ?? id);
  }
  // After the first connection, "reconnected" says it: the details are the same each time.
  let readyShown = false;
  let ended = false;
  const onEvent = (event: ClientEvent) => {
    if (ended) return;
    if (event.event === "connection") {
      if (event.connection.state === "waiting") commands?.giveUp();
      if (event.connection.state === "stopped" && session) done.resolve(1);
      return link.show(event.connection);
    }
    if (event.event === "closed") return;
    if (event.event === "ready" && readyShown) return;
    readyShown ||= event.event === "ready";
    link.transcript.show(event);
  };
  const first = o.open(onEvent).then((s) => (session = s));
  const shell: Shell = {
    session: () => {
      if (session && link.online) return session;
      throw new Error("Not connected: waiting to reconnect to the server");
    },
    show: (event) => link.transcript.show(event),
    help: () => sink.print(helpText()),
  };
  const queue = commands = new CommandQueue(shell, link, first, () => done.resolve(0));
  const enqueue = (line: string) => queue.enqueue(line);
  first.catch((e) => {
    screen?.stop();
    console.error((e as Error).message);
    done.resolve(1);
  });
  if (screen) {
    // Ctrl-C leaves at once; Ctrl-D lets the commands already entered finish first.
    void screen.run(enqueue).then(async (end) => {
      if (end === "eof") await queue.drained();
      done.resolve(0);
    });
  } else {
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on("line", enqueue);
    lines.on("close", () => void queue.drained().then(() => done.resolve(0)));
  }
  const code = await done.promise;
  ended = true;
  screen?.stop();
  await session?.close();
  return code;
}

/**
 * Typed commands. Input is live at once (Ctrl-C works while connecting); commands wait for the
 * connection and run one after another, so DMs leave in the order typed.
 */
class CommandQueue {
  #queue: Promise<unknown>;
  /** Set while a command runs: when the connection drops, a command waiting for an answer gives up. */
  #giveUp: (() => void) | undefined;

  constructor(
    private readonly shell: Shell,
    private readonly link: LinkView,
    first: Promise<unknown>,
    private readonly quit: () => void,
  ) {
    this.#queue = first.catch(() => {});
  }

  enqueue(line: string): void {
    this.#queue = this.#queue.then(async () => {
      const abandoned = Promise.withResolvers<boolean>();
      this.#giveUp = () => {
        this.link.transcript.note(`! no answer to "${line.trim()}": the connection was lost`);
        abandoned.resolve(false);
      };
      try {
        return await Promise.race([command(this.shell, line.trim()), abandoned.promise]);
      } finally {
        this.#giveUp = undefined;
      }
    }).then((quit) => {
      if (quit) this.quit();
    });
  }

  giveUp(): void {
    this.#giveUp?.();
  }

  /** Resolves once every command entered so far has run. */
  drained(): Promise<unknown> {
    return this.#queue;
  }
}

/**
 * The connection's state on screen. The first loss is a transcript line; later failed attempts
 * only change the status row, so a long outage does not flood the transcript.
 */
class LinkView {
  online = false;
  everOnline = false;
  #attempts = 0;

  constructor(
    readonly transcript: Transcript,
    private readonly sink: Sink,
    private readonly clock: Clock,
    private readonly screen?: Screen,
  ) {}

  show(state: ConnectionState): void {
    switch (state.state) {
      case "waiting": {
        this.online = false;
        // Before the first connection, a failure is the caller's to report (and the end).
        if (!this.everOnline) return;
        this.#attempts = state.attempt;
        const wait = waitText(Math.max(0, state.retry_at - this.clock.now()));
        const text = `${state.reason}; reconnecting in ${wait}…`;
        if (state.attempt === 1) this.transcript.note(`* ${text}`);
        this.sink.status("connection", `${text} (attempt ${state.attempt})`);
        return this.screen?.setPrompt(OFFLINE_PROMPT);
      }
      case "connecting":
        if (this.everOnline) this.sink.status("connection", "reconnecting…");
        return;
      case "online": {
        this.online = true;
        this.sink.status("connection", undefined);
        this.screen?.setPrompt(PROMPT);
        const attempts = this.#attempts;
        this.#attempts = 0;
        if (this.everOnline) {
          this.transcript.note(`* reconnected after ${attempts} attempt${attempts > 1 ? "s" : ""}`);
        }
        this.everOnline = true;
        return;
      }
      case "stopped":
        this.online = false;
        this.sink.status("connection", undefined);
        if (this.everOnline) this.transcript.note(`* disconnected: ${state.reason}`);
        return this.screen?.setPrompt(OFFLINE_PROMPT);
    }
  }
}
