/** Tolerant public/private key parsing (§15 P1): accepted forms, refused keys, garbage. */

import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { b64uEncode } from "../protocol/base64url.ts";
import { parsePrivateKey, parsePublicKey } from "./key_import.ts";
import { fixturePem, sharedVectors } from "./_test_support.ts";
import { webCrypto } from "./webcrypto.ts";

const V = sharedVectors();
const SPKI = V.key.public_spki_b64u as string;
const utf8 = (s: string) => new TextEncoder().encode(s);

function reasonOf(text: string): string {
  const parsed = parsePublicKey(text);
  assert.equal(parsed.ok, false, `expected ${JSON.stringify(text.slice(0, 40))} to be refused`);
  return parsed.ok ? "" : parsed.reason;
}

Deno.test("key import: base64 variants of the same key all normalise to one SPKI", () => {
  const std = btoa(
    atob(SPKI.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - SPKI.length % 4) % 4)),
  );
  const pkcs1Pem = createPublicKey(V.key.public_pem).export({ type: "pkcs1", format: "pem" });
  const forms = [
    SPKI,
    `${SPKI}==`.slice(0, SPKI.length + ((4 - SPKI.length % 4) % 4)), // padded
    std, // standard alphabet, padded
    `  ${SPKI}\n`, // surrounding whitespace
    V.key.public_pem,
    V.key.public_pem.replace(/\n/g, "\r\n"),
    V.key.public_pem.replace(/\n/g, "\\n"), // double-escaped newlines from a JSON peer
    V.key.public_pem_b64u,
    b64uEncode(utf8(V.key.public_pem)).replace(/-/g, "+").replace(/_/g, "/"),
    V.key.public_pkcs1_der_b64u,
    String(pkcs1Pem),
    b64uEncode(utf8(String(pkcs1Pem))),
    std.match(/.{1,64}/g)!.join("\n"), // line-wrapped base64 without armour
  ];
  for (const form of forms) {
    const parsed = parsePublicKey(form);
    assert.ok(parsed.ok, parsed.ok ? "" : `${parsed.reason}: ${form.slice(0, 40)}`);
    assert.equal(parsed.value.spki, SPKI);
    assert.equal(b64uEncode(parsed.value.spkiDer), SPKI);
  }
});

Deno.test("key import: fixture keys import; the public half matches node:crypto", () => {
  for (const name of ["server1", "server5", "alice", "bob", "carol", "dave", "eve"]) {
    const pem = fixturePem(name);
    const priv = parsePrivateKey(pem);
    assert.ok(priv.ok, name);
    const der = createPublicKey(pem).export({ type: "spki", format: "der" });
    assert.deepEqual(priv.value.spkiDer, new Uint8Array(der));
    const pub = parsePublicKey(b64uEncode(priv.value.spkiDer));
    assert.ok(pub.ok, name);
  }
});

Deno.test("key import: weak vector keys and weak fixture keys are refused", () => {
  const w = V.weak_public_keys_must_be_rejected;
  assert.equal(reasonOf(w.rsa1024), "RSA key is 1024 bits; SOCP requires 4096");
  assert.equal(reasonOf(w.rsa2048), "RSA key is 2048 bits; SOCP requires 4096");
  assert.equal(reasonOf(w.rsa4096_e3), "RSA public exponent is 3; SOCP requires 65537");
  const fixtures: Array<[string, string]> = [
    ["weak1024", "RSA key is 1024 bits; SOCP requires 4096"],
    ["weak2048", "RSA key is 2048 bits; SOCP requires 4096"],
    ["e3", "RSA public exponent is 3; SOCP requires 65537"],
  ];
  for (const [name, reason] of fixtures) {
    const pem = fixturePem(name);
    const spkiPem = String(createPublicKey(pem).export({ type: "spki", format: "pem" }));
    const spkiDer = createPublicKey(pem).export({ type: "spki", format: "der" });
    const pkcs1Der = createPublicKey(pem).export({ type: "pkcs1", format: "der" });
    assert.equal(reasonOf(spkiPem), reason, `${name} PEM`);
    assert.equal(reasonOf(b64uEncode(new Uint8Array(spkiDer))), reason, `${name} SPKI`);
    assert.equal(reasonOf(b64uEncode(new Uint8Array(pkcs1Der))), reason, `${name} PKCS#1`);
    assert.equal(reasonOf(b64uEncode(utf8(spkiPem))), reason, `${name} b64(PEM)`);
    const priv = parsePrivateKey(pem);
    assert.deepEqual(priv, { ok: false, reason }, `${name} private`);
  }
});

Deno.test("key import: weak fixture private keys make importPrivate throw TypeError", async () => {
  for (const name of ["weak1024", "weak2048", "e3"]) {
    await assert.rejects(webCrypto.importPrivate(fixturePem(name)), TypeError);
  }
});

Deno.test("key import: garbage is refused without throwing", () => {
  const spkiBytes = Uint8Array.from(
    atob(V.key.public_pem.split("\n").slice(1, -2).join("")),
    (c) => c.charCodeAt(0),
  );
  const truncated = b64uEncode(spkiBytes.subarray(0, 300));
  const flipped = spkiBytes.slice();
  flipped[0] = 0x31; // SET instead of SEQUENCE
  const garbage: unknown[] = [
    "",
    "   ",
    "hello world",
    "not base64 !!",
    "QUJD",
    "A",
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
    "-----BEGIN PUBLIC KEY-----\nQUJD\n-----END PUBLIC KEY-----",
    "-----BEGIN PUBLIC KEY-----\nQUJD\n-----END RSA PUBLIC KEY-----",
    V.key.public_pem.replace("-----END PUBLIC KEY-----", ""),
    truncated,
    b64uEncode(flipped),
    b64uEncode(utf8("-----BEGIN garbage")),
    b64uEncode(new Uint8Array([0xff, 0xfe, 0x00])),
    "x".repeat(100_000),
    `${SPKI}${SPKI}`,
    // A private key is never a public key, even though its public half could be derived.
    V.key.private_pkcs8_pem,
    b64uEncode(utf8(V.key.private_pkcs8_pem)),
    // Not RSA.
    String(
      createPublicKey(createPrivateKey({ key: ecPem(), format: "pem" })).export({
        type: "spki",
        format: "pem",
      }),
    ),
    undefined,
    null,
    42,
    { spki: SPKI },
  ];
  for (const g of garbage) {
    const parsed = parsePublicKey(g as string);
    assert.equal(parsed.ok, false, `accepted ${String(g).slice(0, 60)}`);
    assert.ok(!parsed.ok && parsed.reason.length > 0);
  }
  assert.match(reasonOf("hello world"), /not a valid RSA public key/);
  assert.match(reasonOf(V.key.private_pkcs8_pem), /is not a public key/);
});

Deno.test("key import: importPublic never throws on garbage", async () => {
  for (const g of ["", "garbage", "-----BEGIN", "%%%", "QUJD"]) {
    const r = await webCrypto.importPublic(g);
    assert.equal(r.ok, false);
  }
});

Deno.test("key import: private keys as PKCS#8 PEM/DER/base64 and PKCS#1 PEM/DER", async () => {
  const pem = fixturePem("alice");
  const node = createPrivateKey(pem);
  const pkcs8Der = new Uint8Array(node.export({ type: "pkcs8", format: "der" }));
  const pkcs1Der = new Uint8Array(node.export({ type: "pkcs1", format: "der" }));
  const pkcs1Pem = String(node.export({ type: "pkcs1", format: "pem" }));
  const spki = new Uint8Array(createPublicKey(pem).export({ type: "spki", format: "der" }));
  const forms: Array<Uint8Array | string> = [
    pem,
    utf8(pem),
    pkcs8Der,
    b64uEncode(pkcs8Der),
    pkcs1Der,
    pkcs1Pem,
    utf8(pkcs1Pem),
  ];
  for (const form of forms) {
    const parsed = parsePrivateKey(form);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
    assert.deepEqual(parsed.value.pkcs8Der, pkcs8Der);
    assert.deepEqual(parsed.value.spkiDer, spki);
  }
  const key = await webCrypto.importPrivate(pkcs1Der);
  assert.equal(key.publicKey.spki, b64uEncode(spki));
  assert.deepEqual(await webCrypto.exportPrivate(key), pkcs8Der);
});

Deno.test("key import: bad private keys are refused with a reason", () => {
  const cases: Array<[Uint8Array | string, RegExp]> = [
    ["", /empty/],
    [new Uint8Array(0), /not a valid RSA private key/],
    ["garbage!", /neither PEM nor base64/],
    [new Uint8Array([1, 2, 3]), /not a valid RSA private key/],
    [V.key.public_pem, /is not a private key/],
    [
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\nQUJD\n-----END ENCRYPTED PRIVATE KEY-----",
      /encrypted/,
    ],
  ];
  for (const [data, reason] of cases) {
    const parsed = parsePrivateKey(data);
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? "" : parsed.reason, reason);
  }
});

/** A P-256 key made on the fly (cheap), to show non-RSA keys are refused. */
function ecPem(): string {
  return String(
    createPrivateKey(
      {
        key: {
          kty: "EC",
          crv: "P-256",
          x: "WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis",
          y: "y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE",
          d: "Hndv7ZZjs_ke8o9zXYo3iq-Yr8SewI5vrqd0pAvEPqg",
        },
        format: "jwk",
      },
    ).export({ type: "pkcs8", format: "pem" }),
  );
}
