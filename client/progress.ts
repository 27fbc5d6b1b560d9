/**
 * Transfer progress: bytes done, rate and ETA, reported at most a few times a second.
 * @module
 */

/** One progress report. */
export interface Progress {
  file_id: string;
  name: string;
  direction: "send" | "receive";
  bytes: number;
  total: number;
  rate_bps: number;
  eta_s: number;
}

/** Tracks one transfer's progress and throttles its reports. */
export class ProgressMeter {
  #start: number;
  #lastReport = -Infinity;
  /** The end is reported once, however often it is recorded. */
  #ended = false;

  constructor(
    private readonly base: Omit<Progress, "bytes" | "rate_bps" | "eta_s">,
    private readonly now: () => number,
    private readonly report: (p: Progress) => void,
    private readonly intervalMs = 250,
  ) {
    this.#start = now();
  }

  /** Records `bytes` done; reports if enough time passed, or at the end (once). */
  update(bytes: number): void {
    const t = this.now();
    const end = bytes >= this.base.total;
    if (end ? this.#ended : t - this.#lastReport < this.intervalMs) return;
    this.#ended = end;
    this.#lastReport = t;
    const seconds = Math.max((t - this.#start) / 1000, 0.001);
    const rate = bytes / seconds;
    this.report({
      ...this.base,
      bytes,
      rate_bps: Math.round(rate),
      eta_s: rate > 0 ? Math.round((this.base.total - bytes) / rate) : -1,
    });
  }
}

/**
 * A one-line bar: `↓ a.bin [############............]  52% 532.1 KiB/1.0 MiB 120.3 KiB/s ETA 4 s`.
 * The caller draws it on a row it clears first, so a shorter bar leaves nothing behind.
 */
export function progressBar(p: Progress, width = 24): string {
  const ratio = p.total === 0 ? 1 : Math.min(p.bytes / p.total, 1);
  const filled = Math.round(ratio * width);
  const done = p.bytes >= p.total;
  return `${p.direction === "send" ? "↑" : "↓"} ${p.name} [${"#".repeat(filled)}${
    ".".repeat(width - filled)
  }] ${String(Math.round(ratio * 100)).padStart(3)}% ${size(p.bytes)}/${size(p.total)} ${
    size(p.rate_bps)
  }/s ${done ? (p.direction === "send" ? "sent" : "received") : `ETA ${eta(p.eta_s)}`}`;
}

/** Seconds left, for people: `?`, `42 s`, `3 min 5 s`. */
export function eta(seconds: number): string {
  if (seconds < 0 || !Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** A byte count for people. */
export function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
