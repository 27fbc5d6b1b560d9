// Goal (performance): a signing thread signs the SHA-256 of a message (createDigestSigner) and
// the result is a standard PSS-SHA256 signature of the message itself (salt 32, MGF1-SHA256),
// with one OpenSSL context reused for every signature.
import assert from "node:assert/strict";
import { constants, verify as nodeVerify } from "node:crypto";
import { createDigestSigner, createOpenSslBackend } from "./openssl.ts";
import { sha256 } from "./hash.ts";
import { fixturePem } from "./_test_support.ts";
import { webCrypto } from "./webcrypto.ts";

const openssl = createOpenSslBackend({ blocking: true });

Deno.test({
  name: "digest signer: signatures of the digest verify as signatures of the message",
  ignore: openssl === undefined,
  async fn() {
    const alice = await openssl!.importPrivate(fixturePem("alice"));
    const signer = createDigestSigner(alice);
    const other = await webCrypto.importPublic(alice.publicKey.spki);
    assert.ok(other.ok);
    for (const message of ["", "one", "x".repeat(5000)].map((s) => new TextEncoder().encode(s))) {
      // The same context, signature after signature.
      const sig = new Uint8Array(512);
      signer.sign(sha256(message), sig);
      assert.ok(await openssl!.verify(alice.publicKey, message, sig));
      assert.ok(await webCrypto.verify(other.key, message, sig));
      assert.ok(nodeVerify("sha256", message, {
        key: fixturePem("alice"),
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }, sig));
    }
  },
});

Deno.test({
  name: "digest signer: refuses other lengths and other backends' keys",
  ignore: openssl === undefined,
  async fn() {
    const signer = createDigestSigner(await openssl!.importPrivate(fixturePem("bob")));
    assert.throws(() => signer.sign(new Uint8Array(31), new Uint8Array(512)), RangeError);
    assert.throws(() => signer.sign(new Uint8Array(32), new Uint8Array(511)), RangeError);
    const foreign = await webCrypto.importPrivate(fixturePem("bob"));
    assert.throws(() => createDigestSigner(foreign), TypeError);
  },
});
