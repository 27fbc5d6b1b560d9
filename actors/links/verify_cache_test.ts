// Goal: the verification cache only ever remembers successes, keyed by key, signature and
// payload, so it can never accept what a fresh check refuses.
import assert from "node:assert/strict";
import { signPayload } from "../../crypto/signing.ts";
import { fixturePem } from "../../crypto/_test_support.ts";
import { defaultBackend } from "../../crypto/mod.ts";
import { verifyCacheSize, verifyPayloadCached } from "./verify_cache.ts";

Deno.test("verifyPayloadCached() caches successes only and keys on payload and key", async () => {
  const backend = defaultBackend();
  const alice = await backend.importPrivate(fixturePem("alice"));
  const bob = await backend.importPrivate(fixturePem("bob"));
  const payload = { user_id: "u", server_id: "s", n: crypto.randomUUID() };
  const sig = await signPayload(backend, alice, payload);
  const before = verifyCacheSize();
  assert.equal(await verifyPayloadCached(backend, alice.publicKey, payload, sig), true);
  assert.equal(verifyCacheSize(), before + 1);
  assert.equal(await verifyPayloadCached(backend, alice.publicKey, payload, sig), true);
  assert.equal(verifyCacheSize(), before + 1, "a repeat is a hit");
  assert.equal(
    await verifyPayloadCached(backend, alice.publicKey, { ...payload, n: "other" }, sig),
    false,
  );
  assert.equal(await verifyPayloadCached(backend, bob.publicKey, payload, sig), false);
  assert.equal(verifyCacheSize(), before + 1, "failures are never cached");
});
