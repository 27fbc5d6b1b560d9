/**
 * Every vector of tests/vectors/socp-1.3-vectors.json (a copy of the project's shared
 * pyca/cryptography vectors): canonical JSON, transport and content signatures, OAEP, key forms,
 * weak keys.
 */

import assert from "node:assert/strict";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalJson } from "../protocol/canonical.ts";
import { dmPreimages, keySharePreimages } from "./preimages.ts";
import { verifyDm, verifyKeyShare, verifyPayload, verifyPublic } from "./signing.ts";
import { sharedVectors } from "./_test_support.ts";
import type { PublicKey } from "./types.ts";
import { webCrypto } from "./webcrypto.ts";

const V = sharedVectors();

async function vectorPublic(): Promise<PublicKey> {
  const imported = await webCrypto.importPublic(V.key.public_spki_b64u);
  assert.ok(imported.ok, "vector public key imports");
  return imported.key;
}

Deno.test("vectors: canonical_json ascii and utf8 forms match Python exactly", () => {
  assert.ok(V.canonical_json.length >= 5);
  for (const c of V.canonical_json) {
    assert.equal(canonicalJson(c.payload, "ascii"), c.canonical_ascii);
    assert.equal(canonicalJson(c.payload, "utf8"), c.canonical_utf8);
  }
});

Deno.test("vectors: transport_sig with salt 32 and salt 478 verify", async () => {
  const pub = await vectorPublic();
  for (const c of V.transport_sig) {
    assert.ok(await verifyPayload(webCrypto, pub, c.payload, c.sig_salt32), "salt 32");
    assert.ok(await verifyPayload(webCrypto, pub, c.payload, c.sig_salt478), "salt 478");
  }
});

Deno.test("vectors: tampered transport sigs and payloads are rejected", async () => {
  const pub = await vectorPublic();
  const c = V.transport_sig[0];
  const sig = b64uDecode(c.sig_salt32)!;
  sig[100]! ^= 0x01;
  assert.equal(await verifyPayload(webCrypto, pub, c.payload, b64uEncode(sig)), false);
  const changed = { ...c.payload, user_id: "someone-else" };
  assert.equal(await verifyPayload(webCrypto, pub, changed, c.sig_salt32), false);
  assert.equal(await verifyPayload(webCrypto, pub, c.payload, ""), false);
  assert.equal(await verifyPayload(webCrypto, pub, c.payload, "not base64 !"), false);
  assert.equal(await verifyPayload(webCrypto, pub, c.payload, c.sig_salt32.slice(0, 100)), false);
  // The other vector's signature does not cover this payload.
  assert.equal(
    await verifyPayload(webCrypto, pub, c.payload, V.transport_sig[1].sig_salt32),
    false,
  );
});

Deno.test("vectors: DM content_sig variants A-D and salt-478 A verify as that variant", async () => {
  const pub = await vectorPublic();
  const dm = { ciphertext: V.dm.ciphertext, from: V.dm.from, to: V.dm.to, ts: V.dm.ts };
  for (const variant of ["A", "B", "C", "D"] as const) {
    assert.equal(await verifyDm(webCrypto, pub, dm, V.dm.content_sig[variant]), variant);
  }
  assert.equal(await verifyDm(webCrypto, pub, dm, V.dm.content_sig_salt478_A), "A");
});

Deno.test("vectors: DM content_sig rejects swapped ids, other ts, tampered sig", async () => {
  const pub = await vectorPublic();
  const dm = { ciphertext: V.dm.ciphertext, from: V.dm.from, to: V.dm.to, ts: V.dm.ts };
  const sigA = V.dm.content_sig.A;
  assert.equal(
    await verifyDm(webCrypto, pub, { ...dm, from: dm.to, to: dm.from }, sigA),
    undefined,
  );
  assert.equal(await verifyDm(webCrypto, pub, { ...dm, ts: dm.ts + 1 }, sigA), undefined);
  const bad = b64uDecode(sigA)!;
  bad[0]! ^= 0x80;
  assert.equal(await verifyDm(webCrypto, pub, dm, b64uEncode(bad)), undefined);
});

Deno.test("vectors: DM plaintext decrypts with the vector private key", async () => {
  const key = await webCrypto.importPrivate(V.key.private_pkcs8_pem);
  const plain = await webCrypto.decrypt(key, b64uDecode(V.dm.ciphertext)!);
  assert.ok(plain !== undefined);
  assert.equal(new TextDecoder().decode(plain), V.dm.plaintext);
});

Deno.test("vectors: public_channel content_sig variants A-D verify", async () => {
  const pub = await vectorPublic();
  const pc = V.public_channel;
  const content = { ciphertext: pc.ciphertext, from: pc.from, ts: pc.ts };
  for (const variant of ["A", "B", "C", "D"] as const) {
    assert.equal(await verifyPublic(webCrypto, pub, content, pc.content_sig[variant]), variant);
  }
  // A DM signature is not a public-channel signature.
  assert.equal(await verifyPublic(webCrypto, pub, content, V.dm.content_sig.A), undefined);
});

Deno.test("vectors: key_share preimage and content_sig", async () => {
  const pub = await vectorPublic();
  const ks = V.key_share;
  const pre = keySharePreimages(ks.shares, ks.creator_pub);
  assert.equal(new TextDecoder().decode(pre.A), ks.preimage);
  assert.equal(
    await verifyKeyShare(webCrypto, pub, ks.shares, ks.creator_pub, ks.content_sig),
    "A",
  );
  const other = [{ ...ks.shares[0], member: "someone-else" }];
  assert.equal(
    await verifyKeyShare(webCrypto, pub, other, ks.creator_pub, ks.content_sig),
    undefined,
  );
});

Deno.test("vectors: oaep_446_bytes decrypts; 447 bytes is a RangeError", async () => {
  const key = await webCrypto.importPrivate(V.key.private_pkcs8_pem);
  const o = V.oaep_446_bytes;
  assert.equal(o.max_plaintext_bytes, 446);
  const plain = await webCrypto.decrypt(key, b64uDecode(o.ciphertext)!);
  assert.deepEqual(plain, b64uDecode(o.plaintext_b64u));
  assert.equal(plain!.length, 446);
  const pub = key.publicKey;
  await assert.rejects(
    webCrypto.encrypt(pub, new Uint8Array(447)),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message ===
        "Cannot encrypt: plaintext is 447 bytes, RSA-4096 OAEP-SHA256 holds at most 446",
  );
  // 446 bytes round-trips through our own encrypt.
  const ct = await webCrypto.encrypt(pub, plain!);
  assert.equal(ct.length, 512);
  assert.deepEqual(await webCrypto.decrypt(key, ct), plain);
});

Deno.test("vectors: every key form imports to the same SPKI", async () => {
  const k = V.key;
  for (
    const form of [k.public_spki_b64u, k.public_pem, k.public_pem_b64u, k.public_pkcs1_der_b64u]
  ) {
    const imported = await webCrypto.importPublic(form);
    assert.ok(imported.ok, imported.ok ? "" : imported.reason);
    assert.equal(imported.key.spki, k.public_spki_b64u);
  }
  const priv = await webCrypto.importPrivate(k.private_pkcs8_pem);
  assert.equal(priv.publicKey.spki, k.public_spki_b64u);
});

Deno.test("vectors: weak public keys are rejected with a reason", async () => {
  const w = V.weak_public_keys_must_be_rejected;
  const cases: Array<[string, string]> = [
    [w.rsa1024, "RSA key is 1024 bits; SOCP requires 4096"],
    [w.rsa2048, "RSA key is 2048 bits; SOCP requires 4096"],
    [w.rsa4096_e3, "RSA public exponent is 3; SOCP requires 65537"],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(await webCrypto.importPublic(text), { ok: false, reason });
  }
});

Deno.test("vectors: DM preimages of the spec's §5.2 toy example", () => {
  // SOCP-1.3.md §5.2 toy illustration.
  const pre = dmPreimages({ ciphertext: "QUJD", from: "u-1", to: "u-2", ts: 1760000400000 });
  const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
  assert.equal(text(pre.A), "QUJDu-1u-21760000400000");
  assert.equal(text(pre.B), "ABCu-1u-21760000400000");
  assert.equal(text(pre.D), '{"ciphertext":"QUJD","from":"u-1","to":"u-2","ts":1760000400000}');
  assert.equal(pre.C!.length, 32);
});
