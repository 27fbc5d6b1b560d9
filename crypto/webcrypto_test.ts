/** The WebCrypto backend: PSS salt handling, OAEP bounds, failure values, key handles. */

import assert from "node:assert/strict";
import { constants, createPublicKey, publicEncrypt, sign as nodeSign } from "node:crypto";
import { Buffer } from "node:buffer";
import { b64uEncode } from "../protocol/base64url.ts";
import { fixtureKey, fixturePem } from "./test_support.ts";
import { createWebCryptoBackend, webCrypto } from "./webcrypto.ts";

const MESSAGE = new TextEncoder().encode("a message worth signing");

Deno.test("webcrypto: sign makes 512-byte PSS salt-32 signatures that verify", async () => {
  const alice = await fixtureKey("alice");
  const sig = await webCrypto.sign(alice, MESSAGE);
  assert.equal(sig.length, 512);
  assert.ok(await webCrypto.verify(alice.publicKey, MESSAGE, sig));
  // Salt 32 exactly: node:crypto with a pinned salt length agrees.
  const pub = createPublicKey(fixturePem("alice"));
  const ok = (await import("node:crypto")).verify("sha256", MESSAGE, {
    key: pub,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: 32,
  }, sig);
  assert.ok(ok);
});

Deno.test("webcrypto: verify accepts salt 478 (PSS.MAX) and refuses other salts", async () => {
  const pem = fixturePem("alice");
  const alice = await fixtureKey("alice");
  const sigWith = (saltLength: number) =>
    new Uint8Array(
      nodeSign("sha256", MESSAGE, {
        key: pem,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      }),
    );
  assert.ok(await webCrypto.verify(alice.publicKey, MESSAGE, sigWith(478)));
  assert.ok(await webCrypto.verify(alice.publicKey, MESSAGE, sigWith(32)));
  assert.equal(await webCrypto.verify(alice.publicKey, MESSAGE, sigWith(0)), false);
  assert.equal(await webCrypto.verify(alice.publicKey, MESSAGE, sigWith(20)), false);
});

Deno.test("webcrypto: verify returns false for wrong key, tampering, bad lengths", async () => {
  const alice = await fixtureKey("alice");
  const bob = await fixtureKey("bob");
  const sig = await webCrypto.sign(alice, MESSAGE);
  assert.equal(await webCrypto.verify(bob.publicKey, MESSAGE, sig), false);
  const other = MESSAGE.slice();
  other[0]! ^= 1;
  assert.equal(await webCrypto.verify(alice.publicKey, other, sig), false);
  for (
    const bad of [new Uint8Array(0), sig.subarray(0, 511), new Uint8Array(512), new Uint8Array(513)]
  ) {
    assert.equal(await webCrypto.verify(alice.publicKey, MESSAGE, bad), false);
  }
  assert.equal(
    await webCrypto.verify(alice.publicKey, MESSAGE, new Uint8Array(512).fill(0xff)),
    false,
  );
});

Deno.test("webcrypto: OAEP round trip; node:crypto ciphertexts decrypt; bad ones give undefined", async () => {
  const alice = await fixtureKey("alice");
  const bob = await fixtureKey("bob");
  for (const size of [0, 1, 190, 446]) {
    const plain = crypto.getRandomValues(new Uint8Array(size));
    const ct = await webCrypto.encrypt(alice.publicKey, plain);
    assert.equal(ct.length, 512);
    assert.deepEqual(await webCrypto.decrypt(alice, ct), plain);
    assert.equal(await webCrypto.decrypt(bob, ct), undefined);
  }
  const fromNode = publicEncrypt(
    { key: fixturePem("alice"), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    Buffer.from("from node"),
  );
  assert.equal(
    new TextDecoder().decode(await webCrypto.decrypt(alice, new Uint8Array(fromNode))),
    "from node",
  );
  assert.equal(await webCrypto.decrypt(alice, new Uint8Array(512)), undefined);
  assert.equal(await webCrypto.decrypt(alice, new Uint8Array(10)), undefined);
  await assert.rejects(webCrypto.encrypt(alice.publicKey, new Uint8Array(447)), RangeError);
  await assert.rejects(webCrypto.encrypt(alice.publicKey, new Uint8Array(4096)), /4096 bytes/);
});

Deno.test("webcrypto: exportPrivate round-trips; foreign handles are a TypeError", async () => {
  const alice = await fixtureKey("alice");
  const again = await webCrypto.importPrivate(await webCrypto.exportPrivate(alice));
  assert.equal(again.publicKey.spki, alice.publicKey.spki);
  const fake = { spki: alice.publicKey.spki, handle: {} };
  await assert.rejects(webCrypto.verify(fake, MESSAGE, new Uint8Array(512)), TypeError);
  await assert.rejects(webCrypto.encrypt(fake, MESSAGE), TypeError);
  await assert.rejects(webCrypto.sign({ publicKey: fake, handle: null }, MESSAGE), TypeError);
});

Deno.test("webcrypto: a backend bounded to 1 private op still completes concurrent work", async () => {
  const backend = createWebCryptoBackend({ privateOpsInFlightMax: 1 });
  const alice = await backend.importPrivate(fixturePem("alice"));
  const sigs = await Promise.all([1, 2, 3].map(() => backend.sign(alice, MESSAGE)));
  for (const sig of sigs) assert.ok(await backend.verify(alice.publicKey, MESSAGE, sig));
});

Deno.test("webcrypto: generate() smoke test (the only key generation in the suite)", async () => {
  const key = await webCrypto.generate();
  assert.match(key.publicKey.spki, /^MIICIjANBgkq/);
  assert.equal(key.publicKey.spki.length, 734);
  const reimported = await webCrypto.importPublic(key.publicKey.spki);
  assert.ok(reimported.ok);
  const sig = await webCrypto.sign(key, MESSAGE);
  assert.ok(await webCrypto.verify(reimported.key, MESSAGE, sig));
  const ct = await webCrypto.encrypt(reimported.key, MESSAGE);
  assert.deepEqual(await webCrypto.decrypt(key, ct), MESSAGE);
  const pkcs8 = await webCrypto.exportPrivate(key);
  assert.equal(
    (await webCrypto.importPrivate(b64uEncode(pkcs8))).publicKey.spki,
    key.publicKey.spki,
  );
});
