/**
 * `deno task client`: the terminal chat client. Interactive by default; `--json` reads the same
 * commands from stdin and prints every event as one JSON line, so scripts and tests can drive it.
 * @module
 */
import { parseArgs } from "node:util";
import { createInterface } from "node:readline";
import { defaultBackend } from "../crypto/mod.ts";
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import { systemClock, systemRandom } from "../lib/world.ts";
import {
  openKeystore,
  readKeystore,
  sealKeystore,
  writeKeystore,
  WrongPassphraseError,
} from "./keystore.ts";
import { ChatSession, type ClientEvent } from "./session.ts";
import { KnownKeys } from "./known_keys.ts";
import { LoginError, makeRegistration, passwordLogin } from "./login.ts";
import { helpText, render } from "./render.ts";
import { NO_TRACE, TraceFile, type Tracer } from "./trace.ts";
import { parseLayoutSetting } from "../protocol/content_sig_layout.ts";

const USAGE = `Usage: deno task client [options]

Connects to a SOCP server as a user. On first run a key pair is created and stored encrypted
under a passphrase.

Options:
  --server URL           Server to connect to (default ws://127.0.0.1:8765)
  --name NAME            Display name; also names the default keystore (default "me")
  --keystore PATH        Encrypted key file (default ./data/clients/NAME.json)
  --passphrase-env VAR   Read the passphrase from environment variable VAR (default SOCP_PASSPHRASE;
                         asked for interactively when unset)
  --import-key PEM_FILE  Create the keystore from an existing RSA-4096 private key
  --downloads DIR        Where received files are saved (default ./data/downloads/NAME)
  --login USER_ID        On a new machine: fetch your encrypted key from the server with your
                         user id and passphrase (the server stored it when you first connected)
  --content-sig LAYOUT   content_sig layout for DMs: A, B, C, D (spec §5.2), or auto (default):
                         sign A until a DM through the server verifies under another layout,
                         then sign that way (remembered with the server's pinned key)
  --trace FILE           Write every frame, both ways, with this client's verdicts, as JSON
                         lines; read it with "main.ts replay --trace FILE"
  --json                 Scriptable mode: commands on stdin, one JSON event per line on stdout
  -h, --help             Show this help

Commands once connected:
${helpText()}`;

/** Runs the client; returns the exit code. */
export async function runClient(args: string[]): Promise<number> {
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
        trace: { type: "string" },
        json: { type: "boolean", default: false },
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
  const json = values.json;
  const out = (event: ClientEvent) => {
    if (json) return console.log(JSON.stringify(event));
    const line = render(event);
    // Progress redraws one line in place; everything else is a line of its own.
    if (event.event === "progress") {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`\r${line}${event.bytes >= event.total ? "\n" : ""}`),
      );
    } else if (line) console.log(line);
  };
  const backend = defaultBackend();
  const name = values.name;
  const safeName = name.replace(/[^A-Za-z0-9_.-]/g, "_");
  const path = values.keystore ?? `./data/clients/${safeName}.json`;
  const passphrase = Deno.env.get(values["passphrase-env"]) ??
    (json ? undefined : prompt("Passphrase:") ?? undefined);
  if (!passphrase) {
    console.error(`No passphrase: set ${values["passphrase-env"]} or run interactively`);
    return 2;
  }
  let identity: { user_id: string; key: PrivateKey };
  try {
    if (values.login !== undefined && !(await readKeystore(path))) {
      console.error(`Logging in to ${values.server} as ${values.login}...`);
      await writeKeystore(path, await passwordLogin(values.server, values.login, passphrase));
      console.error(`Fetched your encrypted key into ${path}`);
    }
    identity = await loadIdentity(
      backend,
      path,
      passphrase,
      values["import-key"],
      (m) => console.error(m),
    );
  } catch (e) {
    console.error((e as Error).message);
    return e instanceof WrongPassphraseError || e instanceof LoginError ? 3 : 1;
  }
  const known = await KnownKeys.load(`${path.replace(/\.json$/, "")}.known.json`);
  let tracer: Tracer = NO_TRACE;
  if (values.trace !== undefined) {
    try {
      tracer = await TraceFile.open(values.trace, systemClock);
    } catch (e) {
      console.error(`Cannot write trace "${values.trace}": ${(e as Error).message}`);
      return 2;
    }
  }
  const closed = Promise.withResolvers<number>();
  let session: ChatSession;
  try {
    session = await ChatSession.connect({
      url: values.server,
      user_id: identity.user_id,
      key: identity.key,
      backend,
      clock: systemClock,
      random: systemRandom,
      downloads: values.downloads ?? `./data/downloads/${safeName}`,
      known,
      contentSig,
      tracer,
      // Lets the server hold our encrypted key and a password verifier, for logins elsewhere.
      registration: async () => makeRegistration((await readKeystore(path))!, passphrase),
      display_name: name === "me" ? undefined : name,
      onEvent: (event) => {
        out(event);
        if (event.event === "closed") closed.resolve(event.code === 1000 ? 0 : 1);
      },
    });
  } catch (e) {
    console.error((e as Error).message);
    tracer.close();
    return 1;
  }
  const lines = createInterface({
    input: process.stdin,
    terminal: !json && Deno.stdin.isTerminal(),
  });
  // Commands run one after another, so the DMs of a script leave in the order written.
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    queue = queue.then(() => command(session, line.trim(), out)).then((quit) => {
      if (quit) return session.close();
    });
  });
  lines.on("close", () => void queue.then(() => session.close()));
  const code = await closed.promise;
  lines.close();
  tracer.close();
  await known.flushed();
  return code;
}

/** Runs one command line; true when the user asked to quit. */
async function command(
  session: ChatSession,
  line: string,
  out: (e: ClientEvent) => void,
): Promise<boolean> {
  if (line === "") return false;
  const [verb, ...words] = line.split(/\s+/);
  try {
    switch (verb) {
      case "/list":
        out({ event: "list", users: await session.list() });
        return false;
      case "/tell": {
        const [target, ...text] = words;
        if (!target || text.length === 0) throw new Error("Usage: /tell <user> <text>");
        const message = line.replace(/^\/tell\s+\S+\s/, "");
        const sent = await session.tell(target, message);
        out({
          event: "sent",
          to: sent.to.user_id,
          label: session.label(sent.to.user_id),
          parts: sent.refs.length,
          msg_refs: sent.refs,
        });
        return false;
      }
      case "/all": {
        const message = line.replace(/^\/all\s?/, "");
        if (!message) throw new Error("Usage: /all <text>");
        const members = await session.all(message);
        out({ event: "sent", to: "public", label: "public channel", parts: members });
        return false;
      }
      case "/file": {
        const [target, ...rest] = words;
        const path = rest.join(" ");
        if (!target || !path) throw new Error("Usage: /file <user> <path>, or /file all <path>");
        const sent = await session.sendFile(target, path);
        out({
          event: "file_sent",
          file_id: sent.file_id,
          name: path.split("/").pop()!,
          to: target,
          recipients: sent.recipients.length,
        });
        return false;
      }
      case "/whois": {
        if (!words[0]) throw new Error("Usage: /whois <user>");
        out(await session.whois(words[0]));
        return false;
      }
      case "/quit":
        return true;
      case "/help":
        console.log(helpText());
        return false;
      default:
        throw new Error(`Unknown command "${verb}": try /help`);
    }
  } catch (e) {
    out({ event: "error", code: "CLIENT", detail: (e as Error).message });
    return false;
  }
}

async function loadIdentity(
  backend: RsaBackend,
  path: string,
  passphrase: string,
  importPem: string | undefined,
  progress: (message: string) => void,
): Promise<{ user_id: string; key: PrivateKey }> {
  const existing = await readKeystore(path);
  if (existing) {
    return { user_id: existing.user_id, key: await openKeystore(backend, existing, passphrase) };
  }
  let key: PrivateKey;
  if (importPem) key = await backend.importPrivate(await Deno.readTextFile(importPem));
  else {
    progress("Creating your RSA-4096 key pair (takes a few seconds)...");
    key = await backend.generate();
  }
  const user_id = systemRandom.uuid();
  await writeKeystore(path, await sealKeystore(backend, key, user_id, passphrase));
  progress(`Created ${path} for user ${user_id}`);
  return { user_id, key };
}
