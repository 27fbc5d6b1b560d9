// Goal (performance): signatures made on the signing threads are the backend's own (PSS-SHA256,
// salt 32, verifiable by the other backend and by node:crypto), for every key, under
// concurrency, and the caller's buffer may change at once; closing the pool fails what was
// pending and signing goes on through the wrapped backend.
import assert from "node:assert/strict";
import { constants, verify as nodeVerify } from "node:crypto";
import { createOpenSslBackend } from "./openssl.ts";
import { createSignPool } from "./sign_pool.ts";
import { fixturePem } from "./_test_support.ts";
import { webCrypto } from "./webcrypto.ts";

const openssl = createOpenSslBackend();

Deno.test({
  name: "sign pool: signatures verify everywhere, for every key, under concurrency",
  ignore: openssl === undefined,
  async fn() {
    const pool = await createSignPool(openssl!, 2);
    assert.ok(pool, "two signing threads start");
    try {
      assert.match(pool.name, /openssl, signing on 2 threads/);
      const keys = await Promise.all(
        ["alice", "bob"].map((n) => openssl!.importPrivate(fixturePem(n))),
      );
      const messages = Array.from({ length: 16 }, (_, i) => new TextEncoder().encode(`m${i}`));
      const sigs = await Promise.all(messages.map((m, i) => pool.sign(keys[i % 2]!, m)));
      for (const [i, sig] of sigs.entries()) {
        const key = keys[i % 2]!;
        assert.equal(sig.length, 512);
        assert.ok(await openssl!.verify(key.publicKey, messages[i]!, sig));
        const other = await webCrypto.importPublic(key.publicKey.spki);
        assert.ok(other.ok && await webCrypto.verify(other.key, messages[i]!, sig));
        assert.ok(nodeVerify("sha256", messages[i]!, {
          key: fixturePem(i % 2 ? "bob" : "alice"),
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        }, sig));
      }
      // The caller's buffer is copied when the call is made.
      const data = new TextEncoder().encode("original");
      const signing = pool.sign(keys[0]!, data);
      data.fill(0);
      assert.ok(
        await openssl!.verify(
          keys[0]!.publicKey,
          new TextEncoder().encode("original"),
          await signing,
        ),
      );
    } finally {
      pool.close();
    }
  },
});

Deno.test({
  name: "sign pool: closing fails pending signatures, then the wrapped backend signs",
  ignore: openssl === undefined,
  async fn() {
    const pool = (await createSignPool(openssl!, 1))!;
    const alice = await openssl!.importPrivate(fixturePem("alice"));
    const pending = Array.from({ length: 4 }, () => pool.sign(alice, new Uint8Array([1])));
    // Let the key and the requests reach the worker, then close while some are queued there.
    await new Promise((r) => setTimeout(r, 1));
    pool.close();
    const settled = await Promise.allSettled(pending);
    assert.ok(settled.some((s) => s.status === "rejected"), "something was still pending");
    for (const s of settled) {
      if (s.status === "rejected") assert.match(String(s.reason), /signing pool closed/);
    }
    const sig = await pool.sign(alice, new Uint8Array([2]));
    assert.ok(await openssl!.verify(alice.publicKey, new Uint8Array([2]), sig));
  },
});
