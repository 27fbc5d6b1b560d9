/**
 * CPU and memory accounting from /proc (Linux), so every benchmark can say where the two cores
 * went: the server processes (split by thread: the JS main thread vs. the blocking pool that
 * runs the RSA private-key operations), the load generator, and anything else on the machine.
 * Everything returns zeros where /proc is missing.
 * @module
 */

const TICKS_PER_S = 100; // getconf CLK_TCK on Linux

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** utime + stime of a /proc/.../stat line, in seconds. */
function statCpu(text: string | undefined): number {
  if (text === undefined) return 0;
  // The command name may contain spaces; fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** CPU seconds (user + system) a process has used, all threads. */
export function processCpu(pid: number): number {
  return statCpu(read(`/proc/${pid}/stat`));
}

/** CPU seconds per thread name (`comm`) of a process: e.g. the main thread vs. worker pools. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: Deno.DirEntry[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return out;
  }
  for (const task of tasks) {
    const comm = read(`/proc/${pid}/task/${task.name}/comm`)?.trim() ?? "?";
    const name = task.name === String(pid) ? `main (${comm})` : comm;
    out.set(name, (out.get(name) ?? 0) + statCpu(read(`/proc/${pid}/task/${task.name}/stat`)));
  }
  return out;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusyCpu(): number {
  return machineCpu().busy;
}

/** Busy, I/O-wait and stolen CPU seconds of the whole machine, from /proc/stat. */
export function machineCpu(): { busy: number; iowait: number; steal: number } {
  const line = read("/proc/stat")?.split("\n")[0];
  if (line === undefined) return { busy: 0, iowait: 0, steal: 0 };
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const busy = v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + (v[7] ?? 0);
  return {
    busy: busy / TICKS_PER_S,
    iowait: v[4]! / TICKS_PER_S,
    steal: (v[7] ?? 0) / TICKS_PER_S,
  };
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(read(`/proc/${pid}/status`) ?? "");
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Resident memory of a process by kind, in bytes (`/proc/PID/smaps`): `heap` is the C heap
 * (glibc's main arena: Deno's Rust side, OpenSSL, SQLite), `anon` other anonymous mappings
 * (mostly V8's heap), `file` mapped files (the binary, libraries).
 */
export function rssByKind(pid: number): { heap: number; anon: number; file: number } {
  const out = { heap: 0, anon: 0, file: 0 };
  let kind: keyof typeof out = "anon";
  for (const line of (read(`/proc/${pid}/smaps`) ?? "").split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1]!;
      kind = name === "[heap]" ? "heap" : name === "" || name.startsWith("[") ? "anon" : "file";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] += Number(rss[1]) * 1024;
  }
  return out;
}

/** Where the CPU went during a window. */
export interface CpuReport {
  window_s: number;
  /** CPU seconds of the server processes, total. */
  servers_s: number;
  /** Of which: per thread name, summed over the servers. */
  server_threads: Record<string, number>;
  /** The benchmark process itself (load generator). */
  loadgen_s: number;
  /** Everything else on the machine (other tests, the OS). */
  other_s: number;
  /** Cores busy on average, all processes. */
  busy_cores: number;
  /** Cores idle waiting for I/O, and taken by the hypervisor (steal), on average. */
  iowait_cores: number;
  steal_cores: number;
}

/** CPU milliseconds per unit of work (a DM delivered, a copy, a chunk), by where they went. */
export interface CpuPerUnit {
  /** The servers' signing threads (`worker-1`, `worker-2`; `crypto/sign_pool.ts`). */
  signing: number;
  /** The servers' JS threads. */
  js: number;
  /** V8's helper threads (the collector's). */
  v8_helpers: number;
  load_generator: number;
  /** Everything busy on the machine, ours and not. */
  all: number;
}

/** Where the CPU of `cpu`'s window went, per unit of the `units` done in it. */
export function cpuPerUnit(cpu: CpuReport, units: number): CpuPerUnit {
  const t = cpu.server_threads;
  const ms = (s: number) => round((1000 * s) / units, 3);
  return {
    signing: ms((t["worker-1"] ?? 0) + (t["worker-2"] ?? 0)),
    js: ms(t["main"] ?? 0),
    // A thread's `comm` keeps 15 characters of its name.
    v8_helpers: ms(t["V8 DefaultWorke"] ?? 0),
    load_generator: ms(cpu.loadgen_s),
    all: ms(cpu.servers_s + cpu.loadgen_s + cpu.other_s),
  };
}

/** Snapshots CPU use of `pids`, this process and the machine; `end()` reports the difference. */
export function cpuWindow(pids: () => number[]): { end(): CpuReport } {
  const t0 = performance.now();
  const list0 = pids();
  const threads0 = list0.map(threadCpu);
  const servers0 = list0.reduce((s, p) => s + processCpu(p), 0);
  const self0 = processCpu(Deno.pid);
  const machine0 = machineCpu();
  return {
    end(): CpuReport {
      const window_s = (performance.now() - t0) / 1000;
      const servers_s = list0.reduce((s, p) => s + processCpu(p), 0) - servers0;
      const loadgen_s = processCpu(Deno.pid) - self0;
      const m1 = machineCpu();
      const machine = m1.busy - machine0.busy;
      const server_threads: Record<string, number> = {};
      list0.forEach((pid, i) => {
        for (const [name, s] of threadCpu(pid)) {
          const key = name.startsWith("main") ? "main" : name;
          const before = threads0[i]!.get(name) ?? 0;
          server_threads[key] = round((server_threads[key] ?? 0) + s - before, 2);
        }
      });
      return {
        window_s: round(window_s, 2),
        servers_s: round(servers_s, 2),
        server_threads,
        loadgen_s: round(loadgen_s, 2),
        other_s: round(Math.max(0, machine - servers_s - loadgen_s), 2),
        busy_cores: round(machine / window_s, 2),
        iowait_cores: round((m1.iowait - machine0.iowait) / window_s, 2),
        steal_cores: round((m1.steal - machine0.steal) / window_s, 2),
      };
    },
  };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** The p-th percentile (0-100) of `values` (nearest rank); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** What the machine is: for BENCHMARKS.md and results.json. */
export function machineInfo(): { nproc: number; cpu_model: string; ram_gib: number } {
  const cpuinfo = read("/proc/cpuinfo") ?? "";
  const models = [...cpuinfo.matchAll(/^model name\s*:\s*(.+)$/gm)].map((m) => m[1]!);
  const mem = /MemTotal:\s+(\d+) kB/.exec(read("/proc/meminfo") ?? "");
  return {
    nproc: navigator.hardwareConcurrency,
    cpu_model: models[0] ?? "unknown",
    ram_gib: mem ? round(Number(mem[1]) / 1024 / 1024, 1) : 0,
  };
}
