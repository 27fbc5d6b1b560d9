/**
 * Scenario (g)'s scale curve: the least-squares growth exponent of a measure against the number
 * of servers (the slope of log y against log n), and the chart of it as a small SVG, log-log,
 * one series per measure and source, with the n and n² reference lines.
 * @module
 */

/** One series: points (n, y). */
export interface Series {
  label: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

/** The slope of log(y) against log(n) by least squares: y grows as n^slope. */
export function growthExponent(points: [number, number][]): number {
  const xs = points.map(([n]) => Math.log(n));
  const ys = points.map(([, y]) => Math.log(Math.max(y, 1e-9)));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

const W = 520;
const H = 340;
const PAD = { left: 60, right: 150, top: 30, bottom: 40 };

/** A log-log chart of `series` over n in [nMin, nMax]. */
export function chartSvg(title: string, yLabel: string, series: Series[]): string {
  const all = series.flatMap((s) => s.points);
  const nMin = Math.min(...all.map(([n]) => n));
  const nMax = Math.max(...all.map(([n]) => n));
  const yMin = Math.min(...all.map(([, y]) => y)) / 1.5;
  const yMax = Math.max(...all.map(([, y]) => y)) * 1.5;
  const x = (n: number) =>
    PAD.left + (W - PAD.left - PAD.right) * Math.log(n / nMin) / Math.log(nMax / nMin);
  const y = (v: number) =>
    H - PAD.bottom - (H - PAD.top - PAD.bottom) * Math.log(v / yMin) / Math.log(yMax / yMin);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${PAD.left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${
      H - PAD.bottom
    }" stroke="black"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${
      H - PAD.bottom
    }" stroke="black"/>`,
    `<text x="${(W - PAD.right + PAD.left) / 2}" y="${
      H - 8
    }" text-anchor="middle">servers n (log)</text>`,
    `<text x="14" y="${(H - PAD.bottom + PAD.top) / 2}" transform="rotate(-90 14 ${
      (H - PAD.bottom + PAD.top) / 2
    })" text-anchor="middle">${esc(yLabel)} (log)</text>`,
  ];
  for (const n of [...new Set(all.map(([n]) => n))]) {
    out.push(
      `<text x="${x(n)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${n}</text>`,
      `<line x1="${x(n)}" y1="${H - PAD.bottom}" x2="${x(n)}" y2="${
        H - PAD.bottom + 4
      }" stroke="black"/>`,
    );
  }
  for (let p = Math.floor(Math.log10(yMin)); p <= Math.ceil(Math.log10(yMax)); p++) {
    const v = 10 ** p;
    if (v < yMin || v > yMax) continue;
    out.push(
      `<text x="${PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
      `<line x1="${PAD.left}" y1="${y(v)}" x2="${W - PAD.right}" y2="${y(v)}" stroke="#ddd"/>`,
    );
  }
  series.forEach((s, i) => {
    const path = s.points.map(([n, v], j) => `${j === 0 ? "M" : "L"}${x(n)},${y(v)}`).join(" ");
    out.push(
      `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="5,4"' : ""
      }/>`,
    );
    if (!s.dashed) {
      for (const [n, v] of s.points) {
        out.push(`<circle cx="${x(n)}" cy="${y(v)}" r="3" fill="${s.color}"/>`);
      }
    }
    const ly = PAD.top + 16 * i + 6;
    out.push(
      `<line x1="${W - PAD.right + 10}" y1="${ly}" x2="${
        W - PAD.right + 30
      }" y2="${ly}" stroke="${s.color}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="5,4"' : ""
      }/>`,
      `<text x="${W - PAD.right + 34}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** Reference line y = k · n^p over the n of `points`. */
export function reference(
  label: string,
  points: [number, number][],
  k: number,
  p: number,
): Series {
  return {
    label,
    color: "#999",
    dashed: true,
    points: points.map(([n]) => [n, k * n ** p] as [number, number]),
  };
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
