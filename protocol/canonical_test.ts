import assert from "node:assert/strict";
import { canonicalJson } from "./canonical.ts";

/** The character-by-character escaping, as it was before the plain-ASCII fast path. */
function reference(s: string, form: "ascii" | "utf8"): string {
  const escapes: Record<string, string> = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
  };
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    if (escapes[ch]) out += escapes[ch];
    else if (code < 0x20 || (form === "ascii" && code >= 0x7f)) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out + '"';
}

Deno.test("canonical strings: the plain-ASCII fast path writes exactly what escaping would", () => {
  const alphabet = [
    ..."abcXYZ019 -_+/=~!#$%&'()*,.:;<>?@[]^`{|}",
    '"',
    "\\",
    "\n",
    "\t",
    "\x00",
    "\x1f",
    "\x7f",
    "é",
    "€",
    "\ud83d\ude00",
  ];
  let seed = 1;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 5000; i++) {
    const length = next() % 40;
    // Half the strings are plain ASCII, so both paths are exercised.
    const pool = i % 2 === 0 ? alphabet.slice(0, 42) : alphabet;
    const s = Array.from({ length }, () => pool[next() % pool.length]).join("");
    for (const form of ["ascii", "utf8"] as const) {
      assert.equal(canonicalJson(s, form), reference(s, form), JSON.stringify(s));
      assert.equal(
        canonicalJson({ [s]: s }, form),
        `{${reference(s, form)}:${reference(s, form)}}`,
      );
    }
  }
  // Every single code unit of the BMP's ASCII range, alone.
  for (let code = 0; code < 0x80; code++) {
    const s = String.fromCharCode(code);
    assert.equal(canonicalJson(s), reference(s, "ascii"));
  }
});
