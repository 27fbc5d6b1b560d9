/**
 * (f) Replay speed: how fast a server folds its event log at start (`Router.fold`:
 * `readLogAhead` + `evolve`). A realistic mix of events is written through `Store.append`
 * into a fresh SQLite file, then read back and folded, timed as a whole and in parts.
 *
 * The mix imitates a server of a 10-server mesh with 300 local users and 3 000 remote ones:
 * mostly `FrameSeen` (one per accepted server frame), remote users coming and going
 * (`UserLocated` carries the signed USER_ADVERTISE, ~2.3 KB), local sessions
 * (`UserArrived`/`UserLeft`, first visits add `UserRegistered` + `PublicChannelJoined`),
 * occasional public-channel rekeys (one OAEP wrap per member, ~700 B each), link flaps and
 * restarts.
 * @module
 */
import { join } from "node:path";
import { evolve, initialRouterState } from "../actors/router/router_state.ts";
import type { RouterEvent } from "../store/events.ts";
import { Store } from "../store/store.ts";
import { readLogAhead } from "../store/read_ahead.ts";
import { randomBlock } from "./loadgen.ts";
import { round } from "./proc.ts";

/** A deterministic PRNG (mulberry32), so every run writes the same log. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes `count` events of the realistic mix into `store`; returns the count per type. */
export function writeEventMix(store: Store, count: number, seed = 7): Record<string, number> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const hex = (n: number) =>
    Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const me = uuid();
  const servers = Array.from({ length: 9 }, uuid);
  const pub = randomBlock().repeat(2).slice(0, 736); // the size of an RSA-4096 SPKI in base64url
  const locals = Array.from({ length: 300 }, uuid);
  const remotes = Array.from({ length: 3000 }, () => ({ id: uuid(), server: pick(servers) }));
  const registered = new Set<string>();
  const online = new Set<string>();
  const located = new Set<string>();
  const members = new Set<string>();
  let version = 0;
  let at = 1_700_000_000_000;
  let link = 0;
  const counts: Record<string, number> = {};
  const batch: RouterEvent[] = [];
  const emit = (e: RouterEvent) => {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
    batch.push(e);
  };
  const started = () => {
    emit({ type: "ServerStarted", server_id: me, server_pub: pub, at_ms: at, build: "bench" });
    online.clear();
    located.clear();
    for (const s of servers) {
      emit({
        type: "ServerPinned",
        server_id: s,
        pubkey: pub,
        host: "10.0.0.1",
        port: 8765,
        at_ms: at,
      });
      emit({
        type: "ServerLinked",
        server_id: s,
        link: `peer:${++link}`,
        outbound: true,
        at_ms: at,
      });
    }
  };
  started();
  let written = 0;
  while (written + batch.length < count) {
    at += 1 + Math.floor(rand() * 3);
    const r = rand();
    if (r < 0.70) {
      emit({
        type: "FrameSeen",
        key: `${at}|${pick(servers)}|${me}|${hex(64)}`,
        ts: at,
        at_ms: at,
      });
    } else if (r < 0.79) {
      const u = pick(remotes);
      located.add(u.id);
      const advertise = JSON.stringify({
        type: "USER_ADVERTISE",
        from: u.server,
        to: "*",
        ts: at,
        payload: { user_id: u.id, server_id: u.server, meta: { pubkey: pub }, pubkey: pub },
        sig: randomBlock().slice(0, 684),
      });
      emit({
        type: "UserLocated",
        user_id: u.id,
        server_id: u.server,
        pubkey: pub,
        meta: {},
        advertise,
        at_ms: at,
      });
    } else if (r < 0.87) {
      const u = pick(remotes);
      if (located.delete(u.id)) {
        emit({ type: "UserUnlocated", user_id: u.id, server_id: u.server, at_ms: at });
      }
    } else if (r < 0.935) {
      const u = pick(locals);
      if (online.has(u)) continue;
      const meta = { display_name: `user-${u.slice(0, 4)}` };
      if (!registered.has(u)) {
        registered.add(u);
        emit({ type: "UserRegistered", user_id: u, pubkey: pub, meta, at_ms: at });
      }
      online.add(u);
      emit({ type: "UserArrived", user_id: u, link: `conn:${++link}`, meta, at_ms: at });
      if (!members.has(u)) {
        members.add(u);
        emit({ type: "PublicChannelJoined", members: [u], at_ms: at });
      }
    } else if (r < 0.998) {
      const u = pick(locals);
      if (!online.delete(u)) continue;
      emit({ type: "UserLeft", user_id: u, at_ms: at, reason: "socket closed (1000)" });
    } else if (r < 0.9982) {
      // A coalesced rekey: one wrap per member (the whole channel, as the server does).
      const wraps = [...members].map((member_id) => ({ member_id, wrapped_key: randomBlock() }));
      emit({ type: "PublicChannelRekeyed", version: ++version, wraps, at_ms: at });
    } else if (r < 0.9991) {
      const s = pick(servers);
      emit({
        type: "ServerUnlinked",
        server_id: s,
        link: `peer:${link}`,
        at_ms: at,
        reason: "timeout",
      });
      emit({
        type: "ServerLinked",
        server_id: s,
        link: `peer:${++link}`,
        outbound: false,
        at_ms: at,
      });
    } else if (r < 0.99912) {
      started();
    }
    if (batch.length >= 1000) {
      const chunk = batch.splice(0, Math.min(batch.length, count - written));
      store.append(chunk);
      written += chunk.length;
      batch.length = 0;
    }
  }
  const rest = batch.splice(0, count - written);
  store.append(rest);
  written += rest.length;
  store.commit();
  return counts;
}

/** Result of the replay benchmark. */
export interface ReplayResult {
  events: number;
  /** readLogAhead + evolve, as at server start. */
  fold_per_s: number;
  fold_seconds: number;
  /** readLogAhead alone (SQLite queries on the reading thread, JSON.parse here). */
  read_per_s: number;
  /** evolve alone, over events already in memory. */
  evolve_per_s: number;
  write_seconds: number;
  db_mib: number;
  mix: Record<string, number>;
}

/** Writes `count` events to a temporary store and times folding them. */
export async function replayBench(count: number): Promise<ReplayResult> {
  const dir = await Deno.makeTempDir({ prefix: "socp-bench-replay-" });
  const path = join(dir, "socp.sqlite");
  try {
    let store = Store.open(path);
    const w0 = performance.now();
    const mix = writeEventMix(store, count);
    const write_seconds = (performance.now() - w0) / 1000;
    store.close();
    store = Store.open(path);

    // What Router.fold does: read and fold, one pass.
    const f0 = performance.now();
    let state = initialRouterState("bench");
    let n = 0;
    for await (const events of readLogAhead(store)) {
      for (const event of events) {
        state = evolve(state, event);
        n++;
      }
    }
    const fold = (performance.now() - f0) / 1000;

    // The parts: reading alone, then evolving alone (on a copy held in memory).
    const r0 = performance.now();
    const events: RouterEvent[] = [];
    for await (const chunk of readLogAhead(store)) for (const event of chunk) events.push(event);
    const read = (performance.now() - r0) / 1000;
    const e0 = performance.now();
    let again = initialRouterState("bench");
    for (const event of events) again = evolve(again, event);
    const evolveSeconds = (performance.now() - e0) / 1000;
    store.close();
    let bytes = 0;
    for await (const entry of Deno.readDir(dir)) {
      bytes += (await Deno.stat(join(dir, entry.name))).size;
    }
    if (n !== count) throw new Error(`read ${n} events, wrote ${count}`);
    return {
      events: n,
      fold_per_s: Math.round(n / fold),
      fold_seconds: round(fold, 2),
      read_per_s: Math.round(n / read),
      evolve_per_s: Math.round(n / evolveSeconds),
      write_seconds: round(write_seconds, 1),
      db_mib: round(bytes / 2 ** 20, 1),
      mix,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? 1_000_000);
  console.log(JSON.stringify(await replayBench(count), null, 2));
}
