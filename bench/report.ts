/**
 * Prints `bench/results.json` (or the file given) as the Markdown table of BENCHMARKS.md.
 *
 *   deno run -A bench/report.ts [bench/results.json]
 * @module
 */
import type { Result } from "./scenarios.ts";

/** The Markdown table of a results document. */
export function markdownTable(results: Result[]): string {
  const n = (v: number | null | undefined, digits = 1) =>
    v === null || v === undefined ? "–" : v.toLocaleString("en-US", {
      maximumFractionDigits: digits,
    });
  const rows = [
    "| scenario | throughput /s | p50 ms | p99 ms | limit /s | ratio | target | met |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  for (const r of results) {
    const met = r.met === null || r.met === undefined ? "–" : r.met ? "yes" : "**no**";
    rows.push(
      `| ${r.name} | ${n(r.throughput_per_s)} | ${n(r.p50_ms, 2)} | ${n(r.p99_ms, 2)} | ` +
        `${n(r.limit_per_s)} | ${n(r.ratio_to_limit, 3)} | ${r.target ?? ""} | ${met} |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  const path = Deno.args[0] ?? new URL("./results.json", import.meta.url).pathname;
  const document = JSON.parse(await Deno.readTextFile(path));
  console.log(
    `${document.date} · ${document.machine.nproc} cores, ${document.machine.cpu_model}, ` +
      `${document.machine.ram_gib} GiB · Deno ${document.deno} · ceiling ` +
      `${Math.round(document.ceiling.signs_per_s)} signs/s (${document.ceiling.source})\n`,
  );
  console.log(markdownTable(document.results));
}
