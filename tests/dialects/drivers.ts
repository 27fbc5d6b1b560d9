/**
 * Our two clients, driven in-process for the dialect tests: the terminal client's session class
 * (client/session.ts) and the browser client's session (web/src/session.ts, no browser needed).
 * Both get a manual clock for the quiet period after USER_HELLO, so no test waits for it.
 * @module
 */
import { createPrivateKey } from "node:crypto";
import { defaultBackend } from "../../crypto/mod.ts";
import { ManualClock, systemRandom } from "../../lib/world.ts";
import { ChatSession, type ClientEvent, type SessionOptions } from "../../client/session.ts";
import { KnownKeys } from "../../client/known_keys.ts";
import { importPkcs8 } from "../../web/src/rsa.ts";
import { ChatSession as WebSession, type SessionEvent } from "../../web/src/session.ts";
import { MapMemory } from "../harness/map_memory.ts";
import { HELLO_QUIET_MS } from "../../protocol/limits.ts";
import { eventually, fixtureKeyPath } from "../harness/processes.ts";
import { waitForEvent } from "../harness/events.ts";
import type { FakeServer } from "./fake_server.ts";

/** The terminal client's session and what it emitted. */
export interface Terminal {
  session: ChatSession;
  events: ClientEvent[];
  clock: ManualClock;
  known: KnownKeys;
  user_id: string;
  waitFor<K extends ClientEvent["event"]>(
    event: K,
    match?: (e: Extract<ClientEvent, { event: K }>) => boolean,
  ): Promise<Extract<ClientEvent, { event: K }>>;
}

/**
 * Connects a terminal session as fixture user `keyName` to `server`. The quiet period runs on a
 * manual clock, moved on once the server saw the hello (and a proof, when it challenges).
 */
export async function connectTerminal(
  server: FakeServer,
  keyName: string,
  extra: Partial<SessionOptions> = {},
): Promise<Terminal> {
  const backend = defaultBackend();
  const key = await backend.importPrivate(Deno.readTextFileSync(fixtureKeyPath(keyName)));
  const clock = new ManualClock(Date.now());
  const events: ClientEvent[] = [];
  const user_id = crypto.randomUUID();
  const known = extra.known ?? await KnownKeys.load(undefined);
  const connecting = ChatSession.connect({
    url: server.url,
    user_id,
    key,
    backend,
    clock,
    random: systemRandom,
    downloads: Deno.makeTempDirSync(),
    onEvent: (e) => events.push(e),
    known,
    ...extra,
  });
  let connected = false;
  connecting.then(() => connected = true, () => connected = true);
  await eventually(`${keyName}: hello handled`, () => {
    if (!connected && settled(server, user_id)) clock.advance(HELLO_QUIET_MS);
    return connected;
  }, 20_000);
  const session = await connecting;
  const waitFor = <K extends ClientEvent["event"]>(
    event: K,
    match?: (e: Extract<ClientEvent, { event: K }>) => boolean,
  ) => waitForEvent(keyName, events, event, match);
  return { session, events, clock, known, user_id, waitFor };
}

/** Connects a terminal session that must fail (its clock never moves); the error and events. */
export async function refusedTerminal(
  server: FakeServer,
  extra: Partial<SessionOptions> = {},
): Promise<{ error: Error | undefined; events: ClientEvent[] }> {
  const backend = defaultBackend();
  const events: ClientEvent[] = [];
  const error = await ChatSession.connect({
    url: server.url,
    user_id: crypto.randomUUID(),
    key: await backend.importPrivate(Deno.readTextFileSync(fixtureKeyPath("alice"))),
    backend,
    clock: new ManualClock(),
    random: systemRandom,
    downloads: Deno.makeTempDirSync(),
    onEvent: (e) => events.push(e),
    ...extra,
  }).then(() => undefined, (e: Error) => e);
  return { error, events };
}

/**
 * True once a silent server saw this user's hello and, if it challenged, its proof: the quiet
 * period may then run out. A server that answers hello is simply waited for.
 */
function settled(server: FakeServer, user_id: string): boolean {
  if (server.dialect.hello === "ack") return false;
  const hello = server.received.some((f) => f.type === "USER_HELLO" && f.from === user_id);
  if (!hello) return false;
  if (!server.dialect.challenge) return true;
  return server.received.some((f) => f.type === "AUTH_PROOF" && f.from === user_id);
}

/** The browser session and what it emitted. */
export interface Browser {
  session: WebSession;
  events: SessionEvent[];
  clock: ManualClock;
  memory: MapMemory;
  waitFor<K extends SessionEvent["event"]>(
    kind: K,
    match?: (e: Extract<SessionEvent, { event: K }>) => boolean,
  ): Promise<Extract<SessionEvent, { event: K }>>;
}

/** Starts a browser session as fixture user `keyName` and waits until it is online. */
export async function connectBrowser(
  server: FakeServer,
  keyName: string,
  memory = new MapMemory(),
  contentSig?: "A" | "B" | "C" | "D" | "auto",
): Promise<Browser> {
  const der = createPrivateKey(Deno.readTextFileSync(fixtureKeyPath(keyName))).export({
    type: "pkcs8",
    format: "der",
  });
  const pair = await importPkcs8(new Uint8Array(der));
  const clock = new ManualClock(Date.now());
  const events: SessionEvent[] = [];
  const user_id = crypto.randomUUID();
  const session = new WebSession({
    url: server.url,
    user_id,
    pair,
    display_name: keyName,
    memory,
    onEvent: (e) => events.push(e),
    timers: clock,
    ...(contentSig ? { contentSig } : {}),
  });
  session.start();
  const waitFor = <K extends SessionEvent["event"]>(
    kind: K,
    match?: (e: Extract<SessionEvent, { event: K }>) => boolean,
  ) => waitForEvent(`browser ${keyName}`, events, kind, match);
  await eventually(`browser ${keyName}: online`, () => {
    if (session.connection.state !== "online" && settled(server, user_id)) {
      clock.advance(HELLO_QUIET_MS);
    }
    return session.connection.state === "online";
  }, 20_000);
  return { session, events, clock, memory, waitFor };
}
