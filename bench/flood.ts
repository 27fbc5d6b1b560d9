/**
 * Flood benchmark: does one flooding user hurt everyone else? A server process
 * with the default limits; two pairs of users exchange signed DMs at a steady rate and measure
 * each DM's latency (sent → delivered); after a baseline phase, one more user floods a sink
 * user with DMs at its maximum rate (the configured frames/s; it reconnects whenever the server
 * closes it). Prints one JSON line: DM latency p50/p99 without and with the flood, their ratio
 * (target: p99 ratio ≤ 2), and what happened to the flooder.
 *
 *   deno run -A bench/flood.ts [--seconds 10] [--rate 10] [--flood-fps N]
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { DEFAULT_LIMITS } from "../protocol/limits.ts";
import { makeDataDir, startServerProcess } from "../tests/harness/processes.ts";
import {
  fixtureKeyPem,
  newUserId,
  publicKeyText,
  signPayload,
} from "../tests/independent/ref_client.ts";

const args = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "10" },
    rate: { type: "string", default: "10" },
    "flood-fps": { type: "string" },
  },
}).values;
const PHASE_MS = Number(args.seconds) * 1000;
/** DMs per second each honest user sends. */
const RATE = Number(args.rate);
/** The flooder's rate: the most a user link may send (the default limit). */
const FLOOD_FPS = Number(args["flood-fps"] ?? DEFAULT_LIMITS.user_frames_per_s);

const b64u = (n: number) =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("base64url");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw user over npm:ws: hello, send, and a hook on every frame received. */
class User {
  readonly id = newUserId();
  readonly key: KeyObject;
  ws!: WebSocket;
  onFrame: (f: Record<string, unknown>, at: number) => void = () => {};
  closes = 0;

  constructor(keyName: string, readonly url: string) {
    this.key = createPrivateKey(fixtureKeyPem(keyName));
  }

  get pubkey(): string {
    return publicKeyText(this.key, "spki_b64u");
  }

  async connect(): Promise<boolean> {
    const ws = new WebSocket(this.url, { perMessageDeflate: false });
    this.ws = ws;
    const opened = await new Promise<boolean>((resolve) => {
      ws.once("open", () => resolve(true));
      ws.once("error", () => resolve(false));
    });
    if (!opened) return false;
    const acked = Promise.withResolvers<boolean>();
    ws.on("message", (data) => {
      const at = performance.now();
      const f = JSON.parse(data.toString());
      if (f.type === "ACK") acked.resolve(true);
      if (f.type === "ERROR" && f.payload?.code === "NAME_IN_USE") acked.resolve(false);
      this.onFrame(f, at);
    });
    ws.on("close", () => {
      this.closes++;
      acked.resolve(false);
    });
    ws.on("error", () => {});
    this.send({
      type: "USER_HELLO",
      from: this.id,
      to: "server",
      ts: Date.now(),
      payload: { client: "bench", pubkey: this.pubkey },
      sig: "",
    });
    return await acked.promise;
  }

  send(frame: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(latencies: number[], lost: number) {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { dms: s.length, lost, p50_ms: r(percentile(s, 50)), p99_ms: r(percentile(s, 99)) };
}

const dataDir = await makeDataDir("server1");
const server = await startServerProcess(dataDir);
const honest = [
  new User("alice", server.url),
  new User("bob", server.url),
  new User("carol", server.url),
  new User("dave", server.url),
];
const partner = (i: number) => honest[i ^ 1]!;
const sink = new User("eve", server.url);
const flooder = new User("server5", server.url);

// Signed DM payloads, prepared before anything is timed (the client's RSA must not skew it).
const perUser = Math.ceil((RATE * (2 * PHASE_MS + 4000)) / 1000) + 10;
const prepared = honest.map((u) =>
  Array.from({ length: perUser }, () => {
    const payload = { ciphertext: b64u(512), sender_pub: u.pubkey, content_sig: b64u(512) };
    return { payload, sig: signPayload(u.key, payload, 32) };
  })
);

const sentAt = new Map<string, number>();
const phaseOf = new Map<string, "baseline" | "flood">();
type Phase = "warmup" | "baseline" | "flood" | "done";
let phase = "warmup" as Phase;
const latencies: Record<"baseline" | "flood", number[]> = { baseline: [], flood: [] };
const sentIn: Record<"baseline" | "flood", number> = { baseline: 0, flood: 0 };
for (const u of honest) {
  u.onFrame = (f, at) => {
    if (f.type !== "USER_DELIVER") return;
    const ct = (f.payload as { ciphertext?: string }).ciphertext ?? "";
    const sent = sentAt.get(ct);
    const p = phaseOf.get(ct);
    if (sent === undefined || p === undefined) return;
    sentAt.delete(ct);
    phaseOf.delete(ct);
    latencies[p].push(at - sent);
  };
}

let flood = { sent: 0, refused: 0, delivered: 0, reconnects: 0, otherErrors: 0 };
sink.onFrame = (f) => {
  if (f.type === "USER_DELIVER") flood.delivered++;
};
flooder.onFrame = (f) => {
  if (f.type !== "ERROR") return;
  const code = (f.payload as { code?: string }).code;
  if (code === "TIMEOUT") flood.refused++;
  else flood.otherErrors++;
};

for (const u of [...honest, sink]) {
  if (!(await u.connect())) throw new Error("a user could not connect");
}
await sleep(500);

// Honest traffic: each user sends RATE DMs/s to its partner, evenly spaced.
const next = honest.map(() => 0);
const honestLoop = (async () => {
  const start = performance.now();
  let tick = 0;
  while (phase !== "done") {
    tick++;
    for (let i = 0; i < honest.length; i++) {
      const u = honest[i]!;
      const item = prepared[i]![next[i]!++ % perUser]!;
      const frame = {
        type: "MSG_DIRECT",
        from: u.id,
        to: partner(i).id,
        ts: Date.now(),
        payload: item.payload,
        sig: item.sig,
      };
      if (phase === "baseline" || phase === "flood") {
        sentAt.set(item.payload.ciphertext, performance.now());
        phaseOf.set(item.payload.ciphertext, phase);
        sentIn[phase]++;
      }
      u.send(frame);
    }
    // Next tick at a fixed schedule, so a slow server does not slow the senders.
    const due = start + (tick * 1000) / RATE;
    await sleep(Math.max(0, due - performance.now()));
  }
})();

// The flood: DMs with fresh payloads (no signature cache hit) at FLOOD_FPS, reconnecting.
let flooding = false;
const floodLoop = (async () => {
  while (phase !== "done") {
    if (!flooding) {
      await sleep(20);
      continue;
    }
    if (flooder.ws === undefined || flooder.ws.readyState !== WebSocket.OPEN) {
      if (flooder.ws !== undefined) flood.reconnects++;
      if (!(await flooder.connect())) await sleep(50);
      continue;
    }
    const start = performance.now();
    const perTick = Math.max(1, Math.round(FLOOD_FPS / 100));
    for (let i = 0; i < perTick; i++) {
      flooder.send({
        type: "MSG_DIRECT",
        from: flooder.id,
        to: sink.id,
        ts: Date.now(),
        payload: { ciphertext: b64u(512), sender_pub: flooder.pubkey, content_sig: b64u(512) },
        sig: "",
      });
      flood.sent++;
    }
    await sleep(Math.max(0, 10 - (performance.now() - start)));
  }
})();

await sleep(2000);
phase = "baseline";
await sleep(PHASE_MS);
phase = "flood";
flooding = true;
flood = { sent: 0, refused: 0, delivered: 0, reconnects: 0, otherErrors: 0 };
await sleep(PHASE_MS);
phase = "done";
flooding = false;
await Promise.all([honestLoop, floodLoop]);
await sleep(1000); // late deliveries still count (as slow ones)

const lostIn = (p: "baseline" | "flood") => sentIn[p] - latencies[p].length;
const baseline = summary(latencies.baseline, lostIn("baseline"));
const flooded = summary(latencies.flood, lostIn("flood"));
console.log(JSON.stringify({
  bench: "flood",
  phase_s: PHASE_MS / 1000,
  honest_users: honest.length,
  honest_dm_rate_per_user: RATE,
  flood_fps: FLOOD_FPS,
  baseline,
  flood: {
    ...flooded,
    flooder_sent: flood.sent,
    flooder_refused_timeout: flood.refused,
    flooder_reconnects: flood.reconnects,
    flooder_other_errors: flood.otherErrors,
    sink_delivered: flood.delivered,
  },
  p99_ratio: Math.round((flooded.p99_ms / baseline.p99_ms) * 100) / 100,
  p50_ratio: Math.round((flooded.p50_ms / baseline.p50_ms) * 100) / 100,
}));
for (const u of [...honest, sink, flooder]) u.ws?.terminate();
await server.stop();
await Deno.remove(dataDir, { recursive: true }).catch(() => {});
