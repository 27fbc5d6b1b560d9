/**
 * The interactive client: the screen (or plain lines when stdin is not a terminal), the
 * transcript, the commands, and a connection that outlives server restarts. Runs until the user
 * quits (/quit, Ctrl-C, Ctrl-D on an empty line, or the end of piped input).
 * @module
 */
import { createInterface } from "node:readline";
import { type Clock, type Random, systemClock, systemRandom } from "../../lib/world.ts";
import type { ChatSession, ClientEvent } from "../session.ts";
import { helpText } from "../render.ts";
import type { BackoffPolicy } from "./backoff.ts";
import { command, type Shell } from "./commands.ts";
import { Connection, type ConnectionState } from "./reconnect.ts";
import { Screen } from "./screen.ts";
import type { Terminal } from "./terminal.ts";
import { type Sink, Transcript } from "./transcript.ts";

/** What the interactive client needs. */
export interface InteractiveOptions {
  /** Opens a session that reports its events to `onEvent`. */
  open(onEvent: (event: ClientEvent) => void): Promise<ChatSession>;
  /** The terminal, when stdin and stdout are one; plain lines otherwise. */
  term?: Terminal;
  backoff: BackoffPolicy;
  clock?: Clock;
  random?: Random;
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
  // After the first connection, "reconnected" says it: the details are the same each time.
  let connected = false;
  // Set while a command runs: when the socket closes, a command waiting for an answer gives up.
  let giveUp: (() => void) | undefined;
  const connection: Connection<ChatSession> = new Connection({
    open: (lost) =>
      o.open((event) => {
        if (event.event === "closed") {
          giveUp?.();
          lost(`connection lost (${event.code}${event.reason ? `: ${event.reason}` : ""})`);
        } else if (event.event !== "ready" || !connected) transcript.show(event);
        if (event.event === "ready") connected = true;
      }),
    policy: o.backoff,
    clock,
    random: o.random ?? systemRandom,
    onState: (state) => showState(state, transcript, sink, screen),
  });
  const transcript = new Transcript(sink, clock, (id) => connection.session?.label(id) ?? id);
  const shell = shellOf(connection, transcript, sink);
  const done = Promise.withResolvers<number>();
  const first = connection.start();
  // Input is live at once (Ctrl-C works while connecting); commands wait for the connection
  // and run one after another, so DMs leave in the order typed.
  let queue: Promise<unknown> = first.catch(() => {});
  const enqueue = (line: string) => {
    queue = queue.then(async () => {
      const abandoned = Promise.withResolvers<boolean>();
      giveUp = () => {
        transcript.note(`! no answer to "${line.trim()}": the connection was lost`);
        abandoned.resolve(false);
      };
      try {
        return await Promise.race([command(shell, line.trim()), abandoned.promise]);
      } finally {
        giveUp = undefined;
      }
    }).then((quit) => {
      if (quit) done.resolve(0);
    });
  };
  first.catch((e) => {
    screen?.stop();
    console.error((e as Error).message);
    done.resolve(1);
  });
  if (screen) {
    // Ctrl-C leaves at once; Ctrl-D lets the commands already entered finish first.
    void screen.run(enqueue).then(async (end) => {
      if (end === "eof") await queue;
      done.resolve(0);
    });
  } else {
    const lines = createInterface({ input: process.stdin, terminal: false });
    lines.on("line", enqueue);
    lines.on("close", () => void queue.then(() => done.resolve(0)));
  }
  const code = await done.promise;
  screen?.stop();
  await connection.stop();
  return code;
}

/** What commands use: the live session (a plain sentence while there is none), the transcript. */
function shellOf(connection: Connection<ChatSession>, transcript: Transcript, sink: Sink): Shell {
  return {
    session: () => {
      if (connection.session) return connection.session;
      throw new Error("Not connected: waiting to reconnect to the server");
    },
    show: (event) => transcript.show(event),
    sent: (event, text) => transcript.sent(event, text),
    help: () => sink.print(helpText()),
  };
}

/**
 * The first loss is a transcript line; later failed attempts only change the status row, so a
 * long outage does not flood the transcript.
 */
function showState(state: ConnectionState, transcript: Transcript, sink: Sink, screen?: Screen) {
  if (state.state === "waiting") {
    const text = `${state.reason}; reconnecting in ${waitText(state.delayMs)}…`;
    if (state.attempt === 1) transcript.note(`* ${text}`);
    sink.status("connection", `${text} (attempt ${state.attempt})`);
    screen?.setPrompt(OFFLINE_PROMPT);
  } else {
    sink.status("connection", undefined);
    screen?.setPrompt(PROMPT);
    if (state.attempt === 0) return;
    transcript.note(`* reconnected after ${state.attempt} attempt${state.attempt > 1 ? "s" : ""}`);
  }
}
