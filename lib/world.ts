/**
 * The ports to the outside world that core logic may use: time and randomness. The Router, the
 * links, the server shell (its timers, its shutdown, peers, bootstrap, metrics' uptime) and the
 * terminal client's session take both only from here, so tests and the simulation can swap in a
 * manual clock and a seeded random source. What only measures or only needs the next turn calls
 * the runtime directly: RSA latency in metrics, log timestamps, the store's commit on the next
 * turn, and salts, nonces and temporary file names (these must be unpredictable). So do the
 * password-login helper, the browser page and the probe, which talk to a live server in real
 * time.
 * @module
 */

/** A handle returned by {@linkcode Clock.setTimeout}. */
export type TimerId = number | ReturnType<typeof setTimeout>;

/** Wall-clock time and timers. */
export interface Clock {
  /** Unix time in milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** Randomness: ids and bytes. */
export interface Random {
  /** A fresh UUID v4. */
  uuid(): string;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array<ArrayBuffer>;
  /** A float in [0, 1). */
  float(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** The operating system's CSPRNG. */
export const systemRandom: Random = {
  uuid: () => crypto.randomUUID(),
  bytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
  float: () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32,
};

/** A clock that moves only when told to; timers fire in due order on {@linkcode advance}. */
export class ManualClock implements Clock {
  #now: number;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 1_760_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as number);
  }

  /** Moves time forward by `ms`, running every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let dueId = -1;
      let dueAt = Infinity;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && t.at < dueAt) [dueId, dueAt] = [id, t.at];
      }
      if (dueId < 0) break;
      const timer = this.#timers.get(dueId)!;
      this.#timers.delete(dueId);
      this.#now = timer.at;
      timer.fn();
    }
    this.#now = target;
  }
}

/** A deterministic random source (xorshift128+ seeded by splitmix64), for tests and simulation. */
export class SeededRandom implements Random {
  #s0: bigint;
  #s1: bigint;

  constructor(readonly seed: bigint) {
    let x = seed;
    const next = () => {
      x = (x + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
      return z ^ (z >> 31n);
    };
    this.#s0 = next();
    this.#s1 = next();
  }

  #u64(): bigint {
    let s1 = this.#s0;
    const s0 = this.#s1;
    this.#s0 = s0;
    s1 = (s1 ^ (s1 << 23n)) & 0xffffffffffffffffn;
    this.#s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return (this.#s1 + s0) & 0xffffffffffffffffn;
  }

  float(): number {
    return Number(this.#u64() >> 11n) / 2 ** 53;
  }

  bytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(this.#u64() & 0xffn);
    return out;
  }

  uuid(): string {
    const b = this.bytes(16);
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }`;
  }
}
