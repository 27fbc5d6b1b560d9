/**
 * Scripted doubles of other teams' servers and users, for the server-side dialect tests. They
 * are written from the issue and the spec reference (SOCP-1.3.md), on the independent reference
 * client's node:crypto helpers, not on our own code: a test passes only if our server really
 * speaks to a peer that behaves this way. Everything listens and dials on 127.0.0.1.
 * @module
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import WebSocket, { WebSocketServer } from "ws";
import {
  buildDirect,
  fixtureKeyPem,
  type Frame,
  importPublicKey,
  openDelivered,
  RefClient,
  signPayload,
  spkiB64u,
  verifyPayload,
} from "../independent/ref_client.ts";
import { startInProcess } from "../harness/in_process.ts";
import { eventually } from "../harness/processes.ts";
import type { Clock } from "../../lib/world.ts";

export { eventually };

/** Fixture key names: our server, and the doubles' servers and users. */
export const KEYS = {
  ours: "server1",
  theirs: "server2",
  other: "server3",
  ourUser: "alice",
  theirUser: "bob",
  remoteUser: "carol",
} as const;

/** The base64url DER SPKI of a fixture key. */
export function spkiOf(keyName: string): string {
  const pem = createPublicKey(createPrivateKey(fixtureKeyPem(keyName)))
    .export({ type: "spki", format: "pem" }).toString();
  return spkiB64u(pem);
}

/** Our server, in this process, on a loopback port (fixture key `server1`). */
export function startOurs(o: { clock?: Clock; bootstrap?: { port: number; key: string } } = {}) {
  const yaml = o.bootstrap
    ? `bootstrap_servers:\n  - host: "127.0.0.1"\n    port: ${o.bootstrap.port}\n    pubkey: "${
      spkiOf(o.bootstrap.key)
    }"\n`
    : undefined;
  return startInProcess({ key: KEYS.ours, ...(yaml ? { yaml } : {}), clock: o.clock });
}

/** A user of any server: the reference client with a fixture key (signs layout A). */
export function connectUser(url: string, keyName: string): Promise<RefClient> {
  return RefClient.connect({
    url,
    privateKeyPem: fixtureKeyPem(keyName),
    keyForm: "spki_b64u",
    saltLength: 32,
    contentSigVariant: "A",
  });
}

/** True when `frame` carries a valid transport signature by the key `spki`. */
export function signedBy(frame: Frame, spki: string): boolean {
  return verifyPayload(importPublicKey(spki), frame.payload ?? {}, frame.sig ?? "") !== false;
}

/** Sends a DM from `from` to `to` and checks it arrives, decrypts and authenticates. */
export async function assertDm(from: RefClient, to: RefClient, toPub: string): Promise<void> {
  const text = `dm ${from.name} -> ${to.name} ${crypto.randomUUID()}`;
  await from.sendDirect(to.userId, toPub, text);
  const got = await to.next((f) => f.type === "USER_DELIVER" && f.payload?.sender === from.userId);
  const opened = to.openDeliver(got);
  assert.equal(opened.plaintext, text);
  assert.ok(opened.variant, "content_sig verifies");
}

/**
 * A DM each way across a server link: the double's user `remote` (fixture key `remoteUser`) to
 * our user, and back; each must decrypt and carry a verifiable content_sig.
 */
export async function assertDmAcross(
  theirs: DoubleServer,
  ourUser: RefClient,
  ourKey: string,
  remote: string,
): Promise<void> {
  const inbound = `from ${remote} ${crypto.randomUUID()}`;
  theirs.deliver({
    to: ourUser.userId,
    toPub: spkiOf(ourKey),
    sender: remote,
    senderKey: KEYS.remoteUser,
    text: inbound,
  });
  const got = await ourUser.next((f) => f.type === "USER_DELIVER" && f.payload?.sender === remote);
  const opened = ourUser.openDeliver(got);
  assert.equal(opened.plaintext, inbound);
  assert.ok(opened.variant, "content_sig of the delivered DM verifies");
  const outbound = `to ${remote} ${crypto.randomUUID()}`;
  await ourUser.sendDirect(remote, spkiOf(KEYS.remoteUser), outbound);
  assert.equal(await theirs.receiveDm(remote, KEYS.remoteUser), outbound);
}

/**
 * A peer server under a test's control: it dials our server (`dial`) or waits for our server to
 * dial it (`listen`), and sends whatever frames the test scripts, signed with its fixture key.
 */
export class DoubleServer {
  readonly received: Frame[] = [];
  readonly key: KeyObject;
  readonly pubkey: string;
  /** The server's WebSocket (ours dialled or it dialled us). */
  socket: WebSocket | undefined;
  #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #server: WebSocketServer | undefined;
  /** Called for every frame received, e.g. to answer a join. */
  onFrame: (frame: Frame) => void = () => {};

  /**
   * @param id the id it calls itself (any string: the dialects use placeholders)
   * @param keyName its fixture key
   * @param now its clock for `ts` (our server's, when that is a ManualClock)
   */
  constructor(
    public id: string,
    keyName: string,
    readonly now: () => number = () => Date.now(),
  ) {
    this.key = createPrivateKey(fixtureKeyPem(keyName));
    this.pubkey = spkiOf(keyName);
  }

  /** Opens a connection to `url` (our server). `autoPong: false` leaves our pings unanswered. */
  async dial(url: string, o: { autoPong?: boolean } = {}): Promise<void> {
    const socket = new WebSocket(url, { autoPong: o.autoPong ?? true });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    this.#adopt(socket);
  }

  /** Listens on a loopback port for our server to dial; resolves with the port. */
  async listen(o: { autoPong?: boolean } = {}): Promise<number> {
    const server = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      autoPong: o.autoPong ?? true,
    });
    this.#server = server;
    server.on("connection", (socket) => this.#adopt(socket));
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    return (server.address() as { port: number }).port;
  }

  #adopt(socket: WebSocket): void {
    this.socket = socket;
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.received.push(frame);
      this.onFrame(frame);
      for (const w of [...this.#waiters]) {
        if (w.pred(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
    socket.on("error", () => {});
  }

  /** A frame from this server, signed with its key (`sign: false`: unsigned). */
  frame(type: string, to: string, payload: Record<string, unknown>, sign = true): Frame {
    return {
      type,
      from: this.id,
      to,
      ts: this.now(),
      payload,
      sig: sign ? signPayload(this.key, payload, 32) : "",
    };
  }

  /** Sends a frame on the current socket. */
  send(frame: Frame): void {
    this.socket!.send(JSON.stringify(frame));
  }

  /** Its address payload, as in SERVER_HELLO_JOIN / _LINK / ANNOUNCE (§3.1). */
  address(port = 1): Record<string, unknown> {
    return { host: "127.0.0.1", port, pubkey: this.pubkey };
  }

  /** The first frame received (now or later) that matches `pred`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const seen = this.received.map((f) => f.type).join(", ");
        reject(new Error(`double ${this.id}: no matching frame in ${timeoutMs} ms; got ${seen}`));
      }, timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Advertises one of its users (§3.2.1, key in both places). */
  advertise(user: string, userKey: string, serverId = this.id): void {
    this.send(this.frame("USER_ADVERTISE", "*", {
      user_id: user,
      server_id: serverId,
      meta: { pubkey: userKey },
      pubkey: userKey,
    }));
  }

  /** Delivers a DM from its user `sender` (fixture key `senderKey`) to our user (§3.3). */
  deliver(o: { to: string; toPub: string; sender: string; senderKey: string; text: string }): void {
    const ts = this.now();
    const dm = buildDirect({
      from: o.sender,
      to: o.to,
      toPubkey: o.toPub,
      plaintext: o.text,
      privateKey: createPrivateKey(fixtureKeyPem(o.senderKey)),
      keyForm: "spki_b64u",
      saltLength: 32,
      variant: "A",
      ctEncoding: "b64u",
      ts,
    });
    this.send({
      ...this.frame("SERVER_DELIVER", "*", {
        user_id: o.to,
        sender: o.sender,
        ...dm.payload,
      }),
      ts,
    });
  }

  /** Waits for a SERVER_DELIVER to its user and opens it with that user's key. */
  async receiveDm(user: string, userKey: string): Promise<string> {
    const f = await this.next((x) => x.type === "SERVER_DELIVER" && x.payload?.user_id === user);
    const opened = openDelivered(createPrivateKey(fixtureKeyPem(userKey)), user, f);
    assert.ok(opened.variant, "content_sig of the forwarded DM verifies");
    return opened.plaintext;
  }

  /** Sends a WebSocket ping (the liveness some peers use instead of HEARTBEAT). */
  ping(): void {
    this.socket!.ping();
  }

  /** Closes its socket and listener. */
  async close(): Promise<void> {
    this.socket?.terminate();
    if (this.#server) {
      for (const client of this.#server.clients) client.terminate();
      await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    }
  }
}
