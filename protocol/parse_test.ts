// Goal: the single parse of untrusted text never throws, names the bad field, and keeps the
// payload's unknown keys (forwarded frames must stay byte-for-byte signable).
import assert from "node:assert/strict";
import { parseFrame } from "./parse.ts";
import { USER_FRAME_BYTES_MAX } from "./limits.ts";

const KEY = "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA";
const parse = (v: unknown) =>
  parseFrame(typeof v === "string" ? v : JSON.stringify(v), USER_FRAME_BYTES_MAX);
const hello = {
  type: "USER_HELLO",
  from: "u1",
  to: "server",
  ts: 1,
  payload: { client: "x", pubkey: KEY },
  sig: "",
};

Deno.test("parseFrame() accepts a USER_HELLO with an empty or a missing sig", () => {
  const a = parse(hello);
  assert.ok(a.ok);
  const { sig: _, ...unsigned } = hello;
  const b = parse(unsigned);
  assert.ok(b.ok && b.frame.sig === "");
});

Deno.test("parseFrame() keeps unknown payload keys", () => {
  const r = parse({ ...hello, payload: { ...hello.payload, extra: { z: 1 } } });
  assert.ok(r.ok);
  assert.deepEqual((r.frame.payload as Record<string, unknown>).extra, { z: 1 });
});

Deno.test("parseFrame() refuses non-JSON, arrays and scalars without throwing", () => {
  for (const text of ["not json", "[1,2]", "42", '"s"', "null", "", "{"]) {
    const r = parse(text);
    assert.ok(!r.ok, text);
    assert.equal(r.code, "BAD_KEY");
  }
});

Deno.test("parseFrame() refuses a frame over the size limit before parsing it", () => {
  const r = parseFrame(" ".repeat(USER_FRAME_BYTES_MAX + 1), USER_FRAME_BYTES_MAX);
  assert.ok(!r.ok && r.kind === "too_large");
  // Multi-byte characters count in UTF-8 bytes, not UTF-16 units.
  const wide = JSON.stringify({
    ...hello,
    payload: { ...hello.payload, client: "é".repeat(USER_FRAME_BYTES_MAX / 2) },
  });
  const w = parseFrame(wide, USER_FRAME_BYTES_MAX);
  assert.ok(!w.ok && w.kind === "too_large");
});

Deno.test("parseFrame() names a missing or mistyped field", () => {
  const missing = parse({ ...hello, payload: { client: "x" } });
  assert.ok(!missing.ok);
  assert.equal(missing.field, "payload.pubkey");
  assert.match(missing.detail, /payload\.pubkey.*missing/);
  const wrongType = parse({ ...hello, ts: "yesterday" });
  assert.ok(!wrongType.ok && wrongType.field === "ts");
  const noFrom = parse({ ...hello, from: undefined });
  assert.ok(!noFrom.ok && noFrom.field === "from");
});

Deno.test("parseFrame() refuses bad base64 in ciphertext", () => {
  const r = parse({
    type: "MSG_DIRECT",
    from: "a",
    to: "b",
    ts: 1,
    payload: { ciphertext: "***", sender_pub: KEY, content_sig: "AAAA" },
  });
  assert.ok(!r.ok && r.field === "payload.ciphertext");
});

Deno.test("parseFrame() answers an unknown or obsolete type with UNKNOWN_TYPE", () => {
  for (const type of ["NOPE", "MSG_PRIVATE", "PEER_HELLO_JOIN"]) {
    const r = parse({ ...hello, type });
    assert.ok(!r.ok && r.code === "UNKNOWN_TYPE" && r.type === type);
  }
});

Deno.test("parseFrame() accepts a bare CTRL_CLOSE", () => {
  const r = parse({ type: "CTRL_CLOSE" });
  assert.ok(r.ok && r.frame.type === "CTRL_CLOSE");
});

Deno.test("parseFrame() refuses deep nesting without recursion", () => {
  const deep = '{"type":"HEARTBEAT","from":"a","to":"b","ts":1,"payload":' + '{"a":'.repeat(5000) +
    "1" + "}".repeat(5000) + ',"sig":""}';
  const r = parseFrame(deep, USER_FRAME_BYTES_MAX);
  assert.ok(!r.ok && r.kind === "too_deep");
});

Deno.test("parseFrame() tolerates a trailing newline and duplicate keys (last wins, as in Python)", () => {
  const r = parse(JSON.stringify(hello) + "\n");
  assert.ok(r.ok);
  const dup = parse(
    '{"type":"LIST_REQUEST","from":"x","from":"u1","to":"s","ts":1,"payload":{},"sig":""}',
  );
  assert.ok(dup.ok && dup.frame.from === "u1");
});

Deno.test("parseFrame() survives a seeded batch of mutated frames", () => {
  // Bounded: 2 000 mutations of valid frames; any throw fails the test.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const base = JSON.stringify(hello);
  for (let i = 0; i < 2000; i++) {
    const chars = base.split("");
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) {
      chars[Math.floor(rand() * chars.length)] = String.fromCharCode(Math.floor(rand() * 0x3000));
    }
    parse(chars.join(""));
  }
});
