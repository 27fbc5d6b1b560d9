/**
 * The socket fuzz driver (c): a real server in this process, raw `npm:ws` clients sending
 * generated frames as users (after a valid hello), as peer servers (after a signed hello), or
 * with no hello at all, while two healthy users keep chatting. The server must keep answering
 * the healthy users, close what it should, leak no links, and keep its memory bounded.
 * @module
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import WebSocket from "ws";
import { fixtureKeyPem, publicKeyText, RefClient, signPayload } from "../independent/ref_client.ts";
import { startInProcess } from "../harness/in_process.ts";
import { type Cast, FrameGen, Rng } from "./gen.ts";
import type { Failure } from "./drivers.ts";

/** Statistics of the socket driver. */
export interface SocketStats {
  frames: number;
  sessions: number;
  /** Sessions the server closed (strikes, size, bad hello, ...). */
  closedByServer: number;
  /** Connections refused at the door (HTTP 429 and the like). */
  refusedConnections: number;
  healthyRounds: number;
  peakRssMb: number;
  peakHeapMb: number;
  startHeapMb: number;
  endHeapMb: number;
}

/** Options of {@linkcode fuzzSockets}. */
export interface SocketFuzzOptions {
  seed: number;
  frames: number;
  /** Stop sending after this long, whatever the count (ms). */
  budgetMs: number;
  concurrency?: number;
  fail: (f: Failure) => void;
  progress?: (sent: number) => void;
}

const USER_KEYS = ["alice", "bob", "carol", "dave", "eve"];
const SERVER_KEYS = ["server3", "server4"];
/** Fuzz users reuse a small pool of ids (each with one key), as the public channel never shrinks. */
const USER_POOL = 24;

/** Runs the socket driver; resolves with statistics once everything is closed again. */
export async function fuzzSockets(o: SocketFuzzOptions): Promise<SocketStats> {
  const rng = new Rng(o.seed);
  const userKeys = USER_KEYS.map((n) => createPrivateKey(fixtureKeyPem(n)));
  const serverKeys = SERVER_KEYS.map((n) => createPrivateKey(fixtureKeyPem(n)));
  const spki = (k: KeyObject) => publicKeyText(k, "spki_b64u");
  const users = Array.from({ length: USER_POOL }, (_, i) => ({
    id: `fuzz-user-${o.seed % 1000}-${i}`,
    key: userKeys[i % userKeys.length]!,
  }));
  const servers = serverKeys.map((key, i) => ({ id: `fuzz-server-${i}`, key }));
  const cast: Cast = {
    users: users.map((u) => u.id),
    servers: servers.map((s) => s.id),
    keys: [...userKeys, ...serverKeys].map(spki),
  };
  const stats: SocketStats = {
    frames: 0,
    sessions: 0,
    closedByServer: 0,
    refusedConnections: 0,
    healthyRounds: 0,
    peakRssMb: 0,
    peakHeapMb: 0,
    startHeapMb: 0,
    endHeapMb: 0,
  };
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const sample = () => {
    const m = Deno.memoryUsage();
    stats.peakRssMb = Math.max(stats.peakRssMb, mb(m.rss));
    stats.peakHeapMb = Math.max(stats.peakHeapMb, mb(m.heapUsed));
  };
  const s = await startInProcess({ key: "server1", limits: { connections_per_ip: 512 } });
  const alice = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("alice") });
  const bob = await RefClient.connect({ url: s.url, privateKeyPem: fixtureKeyPem("bob") });
  stats.startHeapMb = mb(Deno.memoryUsage().heapUsed);
  const deadline = Date.now() + o.budgetMs;
  const sampler = setInterval(sample, 100);
  let stop = false;

  // The healthy pair: a /list and a DM every round, each answered within 10 s.
  const healthy = (async () => {
    while (!stop) {
      const text = `healthy ${stats.healthyRounds}`;
      try {
        await alice.list(10_000);
        await alice.sendDirect(bob.userId, spki(userKeys[1]!), text);
        const got = await bob.next(
          (f) => f.type === "USER_DELIVER" && f.payload?.sender === alice.userId,
          10_000,
        );
        const opened = bob.openDeliver(got);
        if (opened.plaintext !== text) throw new Error(`bob read "${opened.plaintext}"`);
        bob.drain();
        alice.drain();
        alice.received.length = 0;
        bob.received.length = 0;
        stats.healthyRounds++;
      } catch (e) {
        o.fail({
          driver: "socket",
          index: stats.frames,
          error: `the healthy users were not served: ${(e as Error).message.slice(0, 800)}`,
        });
        if (!alice.isOpen || !bob.isOpen) return;
      }
      await sleep(200);
    }
  })();

  const session = async (r: Rng, gen: FrameGen, budget: number): Promise<void> => {
    const mode = r.pick(["user", "user", "user", "server", "raw"] as const);
    let ws: WebSocket;
    try {
      ws = await open(s.url);
    } catch {
      stats.refusedConnections++;
      return await sleep(50);
    }
    stats.sessions++;
    let closedByServer = false;
    const closed = new Promise<void>((resolve) =>
      ws.once("close", () => {
        closedByServer = true;
        resolve();
      })
    );
    const replies: string[] = [];
    ws.on("message", (d) => {
      if (replies.length < 64) replies.push(d.toString());
    });
    let from: string | undefined;
    const send = (text: string) => {
      if (ws.readyState !== WebSocket.OPEN) return false;
      ws.send(text);
      return true;
    };
    if (mode === "user") {
      const u = r.pick(users);
      from = u.id;
      send(JSON.stringify({
        type: "USER_HELLO",
        from: u.id,
        to: "server",
        ts: Date.now(),
        payload: { client: "fuzz", pubkey: spki(u.key) },
        sig: "",
      }));
      await Promise.race([closed, waitFor(() => replies.length > 0, 5_000)]);
    } else if (mode === "server") {
      const sv = r.pick(servers);
      from = sv.id;
      const payload = { host: "127.0.0.1", port: 1, pubkey: spki(sv.key) };
      send(JSON.stringify({
        type: "SERVER_HELLO_LINK",
        from: sv.id,
        to: s.server.server_id,
        ts: Date.now(),
        payload,
        sig: signPayload(sv.key, payload, 32),
      }));
      await sleep(20);
    }
    const signer = mode === "server" ? servers.find((x) => x.id === from)!.key : undefined;
    for (let i = 0; i < budget && !closedByServer; i++) {
      gen.tick(r.int(100));
      let text = gen.next(r.chance(0.8) ? from : undefined).text;
      // A few server frames are properly signed, so they get past verification.
      if (signer && r.chance(0.05)) text = resign(text, signer);
      if (!send(text)) break;
      stats.frames++;
      if (stats.frames % 500 === 0) o.progress?.(stats.frames);
      if (i % 16 === 15) await sleep(5 + r.int(20));
    }
    await Promise.race([closed, sleep(200)]);
    if (closedByServer) stats.closedByServer++;
    ws.terminate();
  };

  try {
    const concurrency = o.concurrency ?? 6;
    const workers = Array.from({ length: concurrency }, async (_, w) => {
      const r = rng.fork();
      const gen = new FrameGen(o.seed * 1_000 + w, cast, true);
      while (stats.frames < o.frames && Date.now() < deadline && !stop) {
        await session(r, gen, Math.min(10 + r.int(120), o.frames - stats.frames));
      }
    });
    await Promise.all(workers);
    stop = true;
    await healthy;
    // Nothing leaks: every fuzz link is gone again, only the two healthy users remain.
    const linksDeadline = Date.now() + 10_000;
    while (s.server.links.size > 2 && Date.now() < linksDeadline) await sleep(50);
    if (s.server.links.size > 2) {
      o.fail({
        driver: "socket",
        index: stats.frames,
        error: `${s.server.links.size} links remain after every fuzz client left: ${
          [...s.server.links.keys()].join(", ")
        }`,
      });
    }
    const health = await (await fetch(`http://127.0.0.1:${s.server.port}/health`)).json();
    if (health.status !== "ok") {
      o.fail({ driver: "socket", index: stats.frames, error: `health: ${JSON.stringify(health)}` });
    }
    sample();
    stats.endHeapMb = mb(Deno.memoryUsage().heapUsed);
  } finally {
    stop = true;
    clearInterval(sampler);
    alice.terminate();
    bob.terminate();
    await s.close();
  }
  return stats;
}

/** Re-signs a generated frame's payload with `key`, when it is a JSON object with a payload. */
function resign(text: string, key: KeyObject): string {
  try {
    const f = JSON.parse(text);
    if (typeof f !== "object" || f === null || typeof f.payload !== "object") return text;
    f.sig = signPayload(key, f.payload, 32);
    return JSON.stringify(f);
  } catch {
    return text;
  }
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 5_000 });
    ws.once("open", () => {
      ws.removeAllListeners("error");
      ws.on("error", () => {});
      resolve(ws);
    });
    ws.once("error", (e) => {
      ws.terminate();
      reject(e);
    });
    ws.once("unexpected-response", () => {
      ws.terminate();
      reject(new Error("refused"));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(5);
}
