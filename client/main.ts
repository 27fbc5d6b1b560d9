/**
 * `deno task client`: the terminal chat client. Interactive by default (a line editor, a
 * transcript with times and delivery states, reconnection); `--json` reads the same commands
 * from stdin and prints every event as one JSON line, so scripts and tests can drive it.
 * @module
 */
import { parseArgs } from "node:util";
import { createInterface } from "node:readline";
import { defaultBackend } from "../crypto/mod.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import { systemClock, systemRandom } from "../lib/world.ts";
import { PASSPHRASE_LENGTH_MIN } from "../protocol/limits.ts";
import {
  type KeystoreFile,
  openKeystore,
  readKeystore,
  sealKeystore,
  writeKeystore,
  WrongPassphraseError,
} from "./keystore.ts";
import { type Backoff, DEFAULT_BACKOFF } from "./core/backoff.ts";
import { historyPath, openHistoryFile } from "./history_file.ts";
import { ChatSession, type ClientEvent, type SessionOptions } from "./session.ts";
import { KnownKeys } from "./known_keys.ts";
import { LoginError, makeRegistration, passwordLogin } from "./login.ts";
import { helpText } from "./render.ts";
import { NO_TRACE, TraceFile, type Tracer } from "./trace.ts";
import { type LayoutSetting, parseLayoutSetting } from "../protocol/content_sig_layout.ts";
import { command } from "./tty/commands.ts";
import { runInteractive } from "./tty/interactive.ts";
import {
  askNewPassphrase,
  newPassphraseProblem,
  PassphraseAborted,
  PassphraseRefused,
  readHidden,
} from "./tty/passphrase.ts";
import { denoTerminal, type Terminal } from "./tty/terminal.ts";

const USAGE = `Usage: deno task client [options]

Connects to a SOCP server as a user. On first run a key pair is created and stored encrypted
under a passphrase (at least ${PASSPHRASE_LENGTH_MIN} characters, asked twice).

Options:
  --server URL           Server to connect to (default ws://127.0.0.1:8765)
  --name NAME            Display name; also names the default keystore (default "me")
  --keystore PATH        Encrypted key file (default ./data/clients/NAME.json)
  --passphrase-env VAR   Read the passphrase from environment variable VAR (default SOCP_PASSPHRASE;
                         asked for, unseen, when unset)
  --import-key PEM_FILE  Create the keystore from an existing RSA-4096 private key
  --downloads DIR        Where received files are saved (default ./data/downloads/NAME)
  --accept-files         Save every received file at once (default: offered, saved on /accept;
                         --json always saves at once)
  --login USER_ID        On a new machine: fetch your encrypted key from the server with your
                         user id and passphrase (the server stored it when you first connected)
  --content-sig LAYOUT   content_sig layout for DMs: A, B, C, D (spec §5.2), or auto (default):
                         sign A until a DM through the server verifies under another layout,
                         then sign that way (remembered with the server's pinned key)
  --reconnect-delay MS[,MAX]
                         After losing the server, wait up to MS (default ${DEFAULT_BACKOFF.baseMs}) before reconnecting,
                         doubling per failed attempt up to MAX (default ${DEFAULT_BACKOFF.maxMs}); each wait is
                         drawn between half and all of it, so clients do not all return at once
  --trace FILE           Write every frame, both ways, with this client's verdicts, as JSON
                         lines; read it with "main.ts replay --trace FILE"
  --json                 Scriptable mode: commands on stdin, one JSON event per line on stdout;
                         exits when the connection closes (no reconnection, unless --reconnect)
  --reconnect            With --json: reconnect after a drop, as the interactive client does
  -h, --help             Show this help

Commands once connected:
${helpText()}`;

/** Neither the environment nor a terminal gave a passphrase. */
class NoPassphrase extends Error {}

/** Everything the command line chose. */
interface Options {
  server: string;
  name: string;
  keystore: string;
  passphraseEnv: string;
  importKey?: string;
  downloads: string;
  login?: string;
  contentSig: LayoutSetting;
  backoff: Backoff;
  trace?: string;
  json: boolean;
  reconnect: boolean;
  acceptFiles: boolean;
}

/** Runs the client; returns the exit code. */
export async function runClient(args: string[]): Promise<number> {
  const options = parseOptions(args);
  if (typeof options === "number") return options;
  // The line editor and the hidden prompt need a terminal on both sides.
  const term = !options.json && Deno.stdin.isTerminal() && Deno.stdout.isTerminal()
    ? denoTerminal()
    : undefined;
  const backend = defaultBackend();
  let identity: { user_id: string; key: PrivateKey; passphrase: string };
  try {
    identity = await unlock(backend, options, term);
  } catch (e) {
    console.error((e as Error).message);
    if (e instanceof PassphraseAborted) return 130;
    if (e instanceof PassphraseRefused || e instanceof NoPassphrase) return 2;
    return e instanceof WrongPassphraseError || e instanceof LoginError ? 3 : 1;
  }
  const known = await KnownKeys.load(`${options.keystore.replace(/\.json$/, "")}.known.json`);
  let tracer: Tracer = NO_TRACE;
  if (options.trace !== undefined) {
    try {
      tracer = await TraceFile.open(options.trace, systemClock);
    } catch (e) {
      console.error(`Cannot write trace "${options.trace}": ${(e as Error).message}`);
      return 2;
    }
  }
  let history;
  try {
    history = await openHistoryFile(historyPath(options.keystore), backend, identity.key);
  } catch (e) {
    console.error(`Cannot open the message history: ${(e as Error).message}`);
    return 2;
  }
  const base = { backend, known, tracer, history, ...identity };
  const open = (onEvent: (event: ClientEvent) => void) =>
    ChatSession.connect(sessionOptions(options, base, onEvent));
  try {
    if (options.json) return await runScripted(open);
    return await runInteractive({ open, term });
  } finally {
    tracer.close();
    await known.flushed();
    await history.flushed();
  }
}

/** The session the command line asks for. */
function sessionOptions(
  options: Options,
  base: Pick<SessionOptions, "backend" | "known" | "tracer" | "history" | "user_id" | "key"> & {
    passphrase: string;
  },
  onEvent: (event: ClientEvent) => void,
): SessionOptions {
  const { passphrase, ...rest } = base;
  return {
    ...rest,
    url: options.server,
    clock: systemClock,
    random: systemRandom,
    downloads: options.downloads,
    contentSig: options.contentSig,
    backoff: options.backoff,
    reconnect: options.reconnect,
    acceptFiles: options.acceptFiles,
    // Lets the server hold our encrypted key and a password verifier, for logins elsewhere.
    registration: async () => makeRegistration((await readKeystore(options.keystore))!, passphrase),
    display_name: options.name === "me" ? undefined : options.name,
    onEvent,
  };
}

/** Reads `--reconnect-delay MS[,MAX]` (milliseconds); undefined when malformed. */
export function parseBackoff(text: string): Backoff | undefined {
  const match = /^(\d+)(?:,(\d+))?$/.exec(text.trim());
  if (!match) return undefined;
  const baseMs = Number(match[1]);
  const maxMs = match[2] === undefined ? Math.max(baseMs, DEFAULT_BACKOFF.maxMs) : Number(match[2]);
  if (baseMs < 1 || maxMs < baseMs) return undefined;
  return { baseMs, maxMs };
}

function parseOptions(args: string[]): Options | number {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        server: { type: "string", default: "ws://127.0.0.1:8765" },
        name: { type: "string", default: "me" },
        keystore: { type: "string" },
        "passphrase-env": { type: "string", default: "SOCP_PASSPHRASE" },
        "import-key": { type: "string" },
        downloads: { type: "string" },
        login: { type: "string" },
        "content-sig": { type: "string", default: "auto" },
        "reconnect-delay": { type: "string" },
        trace: { type: "string" },
        json: { type: "boolean", default: false },
        reconnect: { type: "boolean", default: false },
        "accept-files": { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) return (console.log(USAGE), 0);
  const contentSig = parseLayoutSetting(values["content-sig"]);
  if (contentSig === undefined) {
    console.error(`Invalid --content-sig "${values["content-sig"]}": expected A, B, C, D or auto`);
    return 2;
  }
  const delay = values["reconnect-delay"];
  const backoff = delay === undefined ? DEFAULT_BACKOFF : parseBackoff(delay);
  if (backoff === undefined) {
    console.error(`Invalid --reconnect-delay "${delay}": expected MS or MS,MAX in milliseconds`);
    return 2;
  }
  const safeName = values.name.replace(/[^A-Za-z0-9_.-]/g, "_");
  return {
    server: values.server,
    name: values.name,
    keystore: values.keystore ?? `./data/clients/${safeName}.json`,
    passphraseEnv: values["passphrase-env"],
    importKey: values["import-key"],
    downloads: values.downloads ?? `./data/downloads/${safeName}`,
    login: values.login,
    contentSig,
    backoff,
    trace: values.trace,
    json: values.json,
    reconnect: !values.json || values.reconnect,
    acceptFiles: values.json || values["accept-files"],
  };
}

/**
 * Finds the passphrase (the environment, else a hidden prompt at a terminal) and opens the
 * keystore with it: fetched from the server with --login, or created when there is none. A new
 * keystore needs a passphrase of the minimum length, typed twice at a terminal.
 */
async function unlock(
  backend: RsaBackend,
  options: Options,
  term: Terminal | undefined,
): Promise<{ user_id: string; key: PrivateKey; passphrase: string }> {
  const path = options.keystore;
  const existing = await readKeystore(path);
  const creating = !existing && options.login === undefined;
  let passphrase = Deno.env.get(options.passphraseEnv);
  if (passphrase === undefined && term && existing) {
    return { user_id: existing.user_id, ...await askUntilOpen(backend, existing, path, term) };
  }
  if (passphrase === undefined && term) {
    passphrase = creating
      ? await askNewPassphrase(term)
      : await readHidden(term, `Passphrase for ${path} (not shown): `);
  }
  if (!passphrase) {
    throw new NoPassphrase(`No passphrase: set ${options.passphraseEnv} or run interactively`);
  }
  const problem = creating ? newPassphraseProblem(passphrase) : undefined;
  if (problem) throw new PassphraseRefused(`No keystore created: ${problem}`);
  if (!existing && options.login !== undefined) {
    console.error(`Logging in to ${options.server} as ${options.login}...`);
    await writeKeystore(path, await passwordLogin(options.server, options.login, passphrase));
    console.error(`Fetched your encrypted key into ${path}`);
  }
  const file = await readKeystore(path);
  if (file) {
    return {
      user_id: file.user_id,
      key: await openKeystore(backend, file, passphrase),
      passphrase,
    };
  }
  let key: PrivateKey;
  if (options.importKey) {
    key = await backend.importPrivate(await Deno.readTextFile(options.importKey));
  } else {
    console.error("Creating your RSA-4096 key pair (takes a few seconds)...");
    key = await backend.generate();
  }
  const user_id = systemRandom.uuid();
  await writeKeystore(path, await sealKeystore(backend, key, user_id, passphrase));
  console.error(`Created ${path} for user ${user_id}`);
  return { user_id, key, passphrase };
}

/** At a terminal, a mistyped passphrase is asked again (three tries in all). */
async function askUntilOpen(
  backend: RsaBackend,
  file: KeystoreFile,
  path: string,
  term: Terminal,
): Promise<{ key: PrivateKey; passphrase: string }> {
  for (let attempt = 1;; attempt++) {
    const passphrase = await readHidden(term, `Passphrase for ${path} (not shown): `);
    try {
      return { key: await openKeystore(backend, file, passphrase), passphrase };
    } catch (e) {
      if (!(e instanceof WrongPassphraseError) || attempt >= 3) throw e;
      term.write("Wrong passphrase, try again.\r\n");
    }
  }
}

/**
 * `--json`: one session; commands from stdin, run one after another so the DMs of a script
 * leave in the order written; every event a JSON line; exits when the connection closes.
 */
async function runScripted(
  open: (onEvent: (event: ClientEvent) => void) => Promise<ChatSession>,
): Promise<number> {
  const show = (event: ClientEvent) => console.log(JSON.stringify(event));
  const closed = Promise.withResolvers<number>();
  let session: ChatSession;
  try {
    session = await open((event) => {
      show(event);
      if (event.event === "closed") closed.resolve(event.code === 1000 ? 0 : 1);
    });
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
  const shell = {
    session: () => session,
    show,
    help: () => console.log(helpText()),
    scripted: true,
  };
  const lines = createInterface({ input: process.stdin, terminal: false });
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    queue = queue.then(() => command(shell, line.trim())).then((quit) => {
      if (quit) return session.close();
    });
  });
  lines.on("close", () => void queue.then(() => session.close()));
  const code = await closed.promise;
  lines.close();
  return code;
}
