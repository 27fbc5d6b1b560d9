/** Transport and content signatures over the backend: what we sign, what we accept. */

import assert from "node:assert/strict";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalBytes } from "../protocol/canonical.ts";
import { sha256, sha256Hex } from "./hash.ts";
import {
  dmPreimages,
  type FileManifest,
  keySharePreimages,
  manifestBytes,
  publicPreimages,
} from "./preimages.ts";
import {
  signDm,
  signKeyShare,
  signManifest,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyManifest,
  verifyPayload,
  verifyPublic,
} from "./signing.ts";
import { fixtureKey } from "./_test_support.ts";
import { webCrypto } from "./webcrypto.ts";

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
const CT = b64uEncode(new Uint8Array(512).map((_, i) => i % 251));
const DM = { ciphertext: CT, from: "u-alice", to: "u-bob", ts: 1760000400000 };

Deno.test("signing: transport sig round trip; other payload or key fails", async () => {
  const alice = await fixtureKey("alice");
  const bob = await fixtureKey("bob");
  const payload = { z: 1, a: { y: [1, 2], b: "x" } };
  const sig = await signPayload(webCrypto, alice, payload);
  assert.equal(sig.length, 683);
  assert.ok(await verifyPayload(webCrypto, alice.publicKey, payload, sig));
  // Key order does not matter: canonical JSON sorts.
  assert.ok(
    await verifyPayload(webCrypto, alice.publicKey, { a: { b: "x", y: [1, 2] }, z: 1 }, sig),
  );
  assert.equal(await verifyPayload(webCrypto, alice.publicKey, { ...payload, z: 2 }, sig), false);
  assert.equal(await verifyPayload(webCrypto, bob.publicKey, payload, sig), false);
});

Deno.test("signing: we sign the ASCII form; the raw-UTF-8 form is accepted too", async () => {
  const alice = await fixtureKey("alice");
  const payload = { display_name: "Zoë 😀" };
  const ours = b64uDecode(await signPayload(webCrypto, alice, payload))!;
  assert.ok(await webCrypto.verify(alice.publicKey, canonicalBytes(payload, "ascii"), ours));
  assert.equal(
    await webCrypto.verify(alice.publicKey, canonicalBytes(payload, "utf8"), ours),
    false,
  );
  const utf8Sig = b64uEncode(await webCrypto.sign(alice, canonicalBytes(payload, "utf8")));
  assert.ok(await verifyPayload(webCrypto, alice.publicKey, payload, utf8Sig));
});

Deno.test("signing: DM content_sig is variant A; B, C, D signatures verify as such", async () => {
  const alice = await fixtureKey("alice");
  const sig = await signDm(webCrypto, alice, DM);
  assert.equal(await verifyDm(webCrypto, alice.publicKey, DM, sig), "A");
  const pre = dmPreimages(DM);
  for (const variant of ["B", "C", "D"] as const) {
    const other = b64uEncode(await webCrypto.sign(alice, pre[variant]!));
    assert.equal(await verifyDm(webCrypto, alice.publicKey, DM, other), variant);
  }
  assert.equal(await verifyDm(webCrypto, alice.publicKey, { ...DM, to: "u-eve" }, sig), undefined);
  assert.equal(await verifyDm(webCrypto, alice.publicKey, DM, "%%%"), undefined);
  assert.equal(await verifyDm(webCrypto, alice.publicKey, DM, ""), undefined);
});

Deno.test("signing: DM preimages when the ciphertext is not base64 (B and C absent)", () => {
  const pre = dmPreimages({ ...DM, ciphertext: "not base64!" });
  assert.equal(text(pre.A), "not base64!u-aliceu-bob1760000400000");
  assert.equal(pre.B, undefined);
  assert.equal(pre.C, undefined);
  assert.equal(
    text(pre.D),
    '{"ciphertext":"not base64!","from":"u-alice","to":"u-bob","ts":1760000400000}',
  );
});

Deno.test("signing: public-channel content_sig is A without `to`", async () => {
  const alice = await fixtureKey("alice");
  const content = { ciphertext: CT, from: DM.from, ts: DM.ts };
  const pre = publicPreimages(content);
  assert.equal(text(pre.A), `${CT}u-alice1760000400000`);
  assert.deepEqual(pre.C, sha256(pre.B!));
  const sig = await signPublic(webCrypto, alice, content);
  assert.equal(await verifyPublic(webCrypto, alice.publicKey, content, sig), "A");
  // A public-channel signature is not a DM signature (no replay across kinds).
  assert.equal(await verifyDm(webCrypto, alice.publicKey, DM, sig), undefined);
});

Deno.test("signing: key share signs canonical(shares)+creator_pub; all four forms verify", async () => {
  const alice = await fixtureKey("alice");
  const creatorPub = alice.publicKey.spki;
  const shares = [{ wrapped_public_channel_key: CT, member: "u-bob" }];
  const pre = keySharePreimages(shares, creatorPub);
  assert.equal(
    text(pre.A),
    `[{"member":"u-bob","wrapped_public_channel_key":"${CT}"}]${creatorPub}`,
  );
  assert.equal(text(pre.D), `${JSON.stringify(shares)}${creatorPub}`);
  assert.equal(pre.B!.length, 32 + 550);
  assert.deepEqual(pre.C, sha256(pre.A!));
  const sig = await signKeyShare(webCrypto, alice, shares, creatorPub);
  assert.equal(await verifyKeyShare(webCrypto, alice.publicKey, shares, creatorPub, sig), "A");
  for (const variant of ["B", "C", "D"] as const) {
    const other = b64uEncode(await webCrypto.sign(alice, pre[variant]!));
    assert.equal(
      await verifyKeyShare(webCrypto, alice.publicKey, shares, creatorPub, other),
      variant,
    );
  }
  assert.equal(keySharePreimages(shares, "not a key").B, undefined);
});

Deno.test("signing: file manifest covers exactly its eight fields", async () => {
  const alice = await fixtureKey("alice");
  const manifest: FileManifest = {
    file_id: "f-1",
    name: "résumé 😀.txt",
    size: 1234,
    sha256: sha256Hex(new TextEncoder().encode("abc")),
    mode: "dm",
    from: "u-alice",
    to: "u-bob",
    ts: 1760000400000,
  };
  assert.equal(manifest.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(
    text(manifestBytes({ ...manifest, extra: "ignored" } as FileManifest)),
    '{"file_id":"f-1","from":"u-alice","mode":"dm","name":"r\\u00e9sum\\u00e9 \\ud83d\\ude00.txt",' +
      `"sha256":"${manifest.sha256}","size":1234,"to":"u-bob","ts":1760000400000}`,
  );
  const sig = await signManifest(webCrypto, alice, manifest);
  assert.ok(await verifyManifest(webCrypto, alice.publicKey, manifest, sig));
  assert.ok(
    await verifyManifest(
      webCrypto,
      alice.publicKey,
      { ...manifest, extra: 1 } as FileManifest,
      sig,
    ),
  );
  assert.equal(
    await verifyManifest(webCrypto, alice.publicKey, { ...manifest, size: 1235 }, sig),
    false,
  );
  assert.equal(
    await verifyManifest(webCrypto, alice.publicKey, { ...manifest, to: "u-eve" }, sig),
    false,
  );
  const utf8Sig = b64uEncode(await webCrypto.sign(alice, manifestBytes(manifest, "utf8")));
  assert.ok(await verifyManifest(webCrypto, alice.publicKey, manifest, utf8Sig));
  assert.equal(await verifyManifest(webCrypto, alice.publicKey, manifest, "x"), false);
});
