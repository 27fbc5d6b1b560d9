/**
 * Canonical JSON for transport signatures (SOCP-1.3.md §5.1, §15 P3): Python's
 * `json.dumps(payload, sort_keys=True, separators=(",", ":"))`, which most peers use. Keys are
 * sorted at every depth, output is compact, arrays keep their order. Hand-written because no
 * npm package reproduces Python's `ensure_ascii` escaping and float formatting exactly.
 * @module
 */

/** How non-ASCII text is written: Python's default `\uXXXX` escapes, or raw UTF-8. */
export type CanonicalForm = "ascii" | "utf8";

/** Serialises `value` canonically. */
export function canonicalJson(value: unknown, form: CanonicalForm = "ascii"): string {
  return write(value, form);
}

/** UTF-8 bytes of {@linkcode canonicalJson}. */
export function canonicalBytes(
  value: unknown,
  form: CanonicalForm = "ascii",
): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(canonicalJson(value, form)) as Uint8Array<ArrayBuffer>;
}

/** True when the canonical forms differ, so a verifier must try both. */
export function hasNonAscii(value: unknown): boolean {
  // DEL (0x7f) counts: the ASCII form escapes it and the UTF-8 form does not.
  return /[\x7f-\uffff]/.test(JSON.stringify(value) ?? "");
}

function write(value: unknown, form: CanonicalForm): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return number(value);
    case "string":
      return string(value, form);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => write(v, form)).join(",")}]`;
      const obj = value as Record<string, unknown>;
      // Python sorts by code point; JS's default sort compares UTF-16 units, which differs
      // only above U+FFFF, so compare code points explicitly.
      const keys = Object.keys(obj).sort(compareCodePoints);
      return `{${keys.map((k) => `${string(k, form)}:${write(obj[k], form)}`).join(",")}}`;
    }
    default:
      return "null";
  }
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function number(n: number): string {
  // Integral values below 1e21 are written as integers: that is how JSON.stringify puts them on
  // the wire, so a Python peer parses them as int and signs/verifies the integer digits. (A
  // Python *float* such as 1e16 is indistinguishable once parsed; ints are far more common.)
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : n < 0 ? "-Infinity" : "NaN";
  return pythonFloatRepr(n);
}

/**
 * Python's `repr(float)`: the shortest round-trip digits (which `toExponential()` without an
 * argument also yields), written in fixed notation when the decimal exponent is in [-4, 16) and
 * in scientific notation otherwise. JS's own `String(n)` switches at [-7, 21), so it disagrees
 * for values such as 1e-5 (Python `1e-05`) or 1.5e-7 (Python `1.5e-07`).
 */
function pythonFloatRepr(n: number): string {
  const sign = n < 0 ? "-" : "";
  const [mantissa, expText] = Math.abs(n).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${frac}e${exp < 0 ? "-" : "+"}${
      String(Math.abs(exp)).padStart(2, "0")
    }`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac === "" ? "0" : frac}`;
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Printable ASCII without `"` and `\`: written as is in both forms (the common case). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function string(s: string, form: CanonicalForm): string {
  if (PLAIN.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (code < 0x20 || (form === "ascii" && code >= 0x7f)) {
      // Python's ensure_ascii escapes everything outside " ".."~", so DEL (0x7f) too. UTF-16 code
      // units, so characters above U+FFFF come out as surrogate pairs, as in Python.
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out + '"';
}
