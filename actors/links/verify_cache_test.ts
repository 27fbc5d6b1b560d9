// Goal: the verification cache only ever remembers successes, keyed by key, signature and
// payload, so it can never accept what a fresh check refuses; and only of broadcasts, the frames
// that arrive over several links.
import assert from "node:assert/strict";
import { signPayload } from "../../crypto/signing.ts";
import { fixturePem } from "../../crypto/_test_support.ts";
import { defaultBackend } from "../../crypto/mod.ts";
import { verifyCacheSize, verifyFrameCached } from "./verify_cache.ts";

Deno.test("verifyFrameCached() caches successes only and keys on payload and key", async () => {
  const backend = defaultBackend();
  const alice = await backend.importPrivate(fixturePem("alice"));
  const bob = await backend.importPrivate(fixturePem("bob"));
  const payload = { user_id: "u", server_id: "s", n: crypto.randomUUID() };
  const sig = await signPayload(backend, alice, payload);
  const frame = (p: object, to = "*") => ({ to, payload: p, sig });
  const before = verifyCacheSize();
  assert.equal(await verifyFrameCached(backend, alice.publicKey, frame(payload)), true);
  assert.equal(verifyCacheSize(), before + 1);
  assert.equal(await verifyFrameCached(backend, alice.publicKey, frame(payload)), true);
  assert.equal(verifyCacheSize(), before + 1, "a repeat is a hit");
  assert.equal(
    await verifyFrameCached(backend, alice.publicKey, frame({ ...payload, n: "other" })),
    false,
  );
  assert.equal(await verifyFrameCached(backend, bob.publicKey, frame(payload)), false);
  assert.equal(verifyCacheSize(), before + 1, "failures are never cached");
});

Deno.test("verifyFrameCached() checks a frame addressed to one server without remembering it", async () => {
  const backend = defaultBackend();
  const alice = await backend.importPrivate(fixturePem("alice"));
  const payload = { user_id: "u", n: crypto.randomUUID() };
  const sig = await signPayload(backend, alice, payload);
  const frame = { to: "server-b", payload, sig };
  const before = verifyCacheSize();
  assert.equal(await verifyFrameCached(backend, alice.publicKey, frame), true);
  assert.equal(verifyCacheSize(), before, "a frame to one server is not remembered");
  assert.equal(
    await verifyFrameCached(backend, alice.publicKey, {
      ...frame,
      payload: { ...payload, n: "x" },
    }),
    false,
  );
  // A broadcast of the same payload and signature is checked afresh, then remembered.
  assert.equal(await verifyFrameCached(backend, alice.publicKey, { ...frame, to: "*" }), true);
  assert.equal(verifyCacheSize(), before + 1);
});
