/**
 * Joining a network through an introducer (§3.1): SERVER_HELLO_JOIN to the first reachable
 * entry of the bootstrap list, trying the next on failure; the SERVER_WELCOME must verify with
 * that entry's pinned key. The join socket then stays open as the link to the introducer. Each
 * attempt is reported with its verdict, for the journal.
 * @module
 */
import { parsePublicKey } from "../../crypto/key_import.ts";
import { verifyPayload } from "../../crypto/signing.ts";
import type { RsaBackend } from "../../crypto/types.ts";
import type { Clock, TimerId } from "../../lib/world.ts";
import type { Logger } from "../../lib/log.ts";
import { type FrameOf, parseFrame } from "../../protocol/mod.ts";
import { DIAL_TIMEOUT_MS, SERVER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";
import type { PinnedServer } from "./config.ts";
import { type DialOptions, openSocket, peerUrl, type WebSocket } from "./dial.ts";
import type { FrameSigner } from "../links/frame_signer.ts";
import type { PeerEntry } from "../router/router_messages.ts";
import { OUR_SERVER_FEATURES } from "../router/router_delivery.ts";
import { featuresOf } from "../router/router_federation.ts";
import type { OutboundNote } from "./outbound_journal.ts";
import { flagId, isUuidV4 } from "../../protocol/ids.ts";

/** A successful join. */
export interface Joined {
  socket: WebSocket;
  /** Text messages that arrived after the welcome, to hand to the link. */
  backlog: string[];
  welcomeRaw: string;
  /** The id we go by from now on (see `idAfterWelcome`). */
  assigned_id: string;
  /** Why the welcome was accepted, for the journal. */
  verdict: string;
  introducer: PeerEntry;
  servers: PeerEntry[];
}

/** Who is joining. */
export interface Joiner {
  server_id: string;
  pubkey: string;
  advertise: { host: string; port: number };
  signer: FrameSigner;
  backend: RsaBackend;
  clock: Clock;
  log: Logger;
  /** TLS for the dial (entries with `tls: true` use wss://). */
  dial?: DialOptions;
  /** Told each attempt and its verdict, for the journal. */
  note?: (note: OutboundNote) => void;
}

/** Tries each introducer in order; undefined when none answered with a valid welcome. */
export async function join(
  introducers: readonly PinnedServer[],
  me: Joiner,
): Promise<Joined | undefined> {
  for (const entry of introducers) {
    if (entry.pubkey === me.pubkey) continue; // Our own entry in a shared bootstrap list.
    const target = `${entry.host}:${entry.port}`;
    const attempt = { what: "join" as const, target, at_ms: me.clock.now() };
    try {
      const joined = await joinOne(entry, me);
      me.note?.({ ...attempt, raw: joined.welcomeRaw, accepted: true, reason: joined.verdict });
      return joined;
    } catch (e) {
      const { message } = e as Error;
      me.note?.({
        ...attempt,
        raw: (e as JoinRefused).raw ?? "",
        accepted: false,
        reason: message,
      });
      me.log.warn("introducer did not welcome us; trying the next", {
        introducer: target,
        error: message,
      });
    }
  }
  return undefined;
}

/** A join that failed after the introducer answered: the answer is kept for the journal. */
class JoinRefused extends Error {
  constructor(message: string, readonly raw: string) {
    super(message);
  }
}

/**
 * The id we go by after a welcome: `assigned_id` when it is a UUID v4; our own when the welcome
 * has none (the `{host, port, pubkey, role}` dialect) or names one that is not a UUID v4, which
 * we would never send.
 */
function idAfterWelcome(assigned: string | undefined, own: string): { id: string; why: string } {
  if (assigned === undefined) return { id: own, why: "no assigned_id in the welcome: kept our id" };
  if (!isUuidV4(assigned)) {
    return { id: own, why: `assigned_id ${flagId(assigned)} ignored: kept our id` };
  }
  return { id: assigned, why: assigned === own ? "our id confirmed" : `assigned id ${assigned}` };
}

async function joinOne(entry: PinnedServer, me: Joiner): Promise<Joined> {
  const dial: DialOptions = {
    ...me.dial,
    tlsPeers: entry.tls ? new Set([`${entry.host}:${entry.port}`]) : undefined,
  };
  const url = peerUrl(entry.host, entry.port, dial);
  const socket = await openSocket(url, DIAL_TIMEOUT_MS, dial);
  const { welcome, backlog, timer } = awaitWelcome(socket, me.clock);
  socket.send(
    await me.signer.seal({
      type: "SERVER_HELLO_JOIN",
      from: me.server_id,
      to: `${entry.host}:${entry.port}`,
      ts: me.clock.now(),
      payload: {
        host: me.advertise.host,
        port: me.advertise.port,
        pubkey: me.pubkey,
        features: OUR_SERVER_FEATURES,
      },
    }),
  );
  let raw: string;
  try {
    raw = await welcome;
  } catch (e) {
    socket.terminate();
    throw e;
  } finally {
    me.clock.clearTimeout(timer);
  }
  socket.removeAllListeners("message");
  socket.removeAllListeners("close");
  const fail = (why: string): never => {
    socket.terminate();
    throw new JoinRefused(`welcome refused: ${why}`, raw);
  };
  const parsed = parseFrame(raw, SERVER_FRAME_BYTES_MAX);
  if (!parsed.ok) return fail(`introducer answered with a bad frame: ${parsed.detail}`);
  const frame = parsed.frame;
  if (frame.type !== "SERVER_WELCOME") {
    return fail(
      `introducer answered ${frame.type}${
        frame.type === "ERROR" ? ` ${frame.payload.code}: ${frame.payload.detail}` : ""
      }`,
    );
  }
  const pinned = await me.backend.importPublic(entry.pubkey);
  if (!pinned.ok || !(await verifyPayload(me.backend, pinned.key, frame.payload, frame.sig))) {
    return fail("SERVER_WELCOME does not verify with the introducer's pinned key");
  }
  const servers = usableEntries(frame.payload.servers ?? frame.payload.clients ?? []);
  const kept = idAfterWelcome(frame.payload.assigned_id, me.server_id);
  return {
    socket,
    backlog,
    welcomeRaw: raw,
    assigned_id: kept.id,
    verdict: `welcomed by ${flagId(frame.from)}: ${kept.why}; ${servers.length} server(s) listed`,
    introducer: {
      server_id: frame.from,
      host: entry.host,
      port: entry.port,
      pubkey: pinned.key.spki,
      features: featuresOf(frame.payload),
    },
    servers,
  };
}

/**
 * The first frame the introducer sends (its welcome), or why none came in time; the frames that
 * follow it wait in `backlog`, in order, for the link to take over.
 */
function awaitWelcome(
  socket: WebSocket,
  clock: Clock,
): { welcome: Promise<string>; backlog: string[]; timer: TimerId } {
  const backlog: string[] = [];
  const welcome = Promise.withResolvers<string>();
  const timer = clock.setTimeout(
    () => welcome.reject(new Error(`no SERVER_WELCOME within ${DIAL_TIMEOUT_MS} ms`)),
    DIAL_TIMEOUT_MS,
  );
  let first = true;
  socket.on("message", (data) => {
    const text = data.toString();
    if (first) {
      first = false;
      welcome.resolve(text);
    } else backlog.push(text);
  });
  socket.once(
    "close",
    (code) => welcome.reject(new Error(`introducer closed the connection (${code})`)),
  );
  return { welcome: welcome.promise, backlog, timer };
}

/** The welcome's servers: either list key and either id key (§15 P9); unusable ones dropped. */
function usableEntries(
  list: NonNullable<FrameOf<"SERVER_WELCOME">["payload"]["servers"]>,
): PeerEntry[] {
  const servers: PeerEntry[] = [];
  for (const e of list) {
    const id = e.server_id ?? e.user_id;
    const key = parsePublicKey(e.pubkey);
    if (id !== undefined && key.ok) {
      servers.push({
        server_id: id,
        host: e.host,
        port: e.port,
        pubkey: key.value.spki,
        features: featuresOf(e),
      });
    }
  }
  return servers;
}
