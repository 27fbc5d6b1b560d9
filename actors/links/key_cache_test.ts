// Goal: the shared user-key cache hands back a key that verifies, stays within its bound, and
// imports a key again after evicting it (an evicted user's signed frames still verify).
import assert from "node:assert/strict";
import { signPayload, verifyPayload } from "../../crypto/signing.ts";
import { fixturePem } from "../../crypto/_test_support.ts";
import { defaultBackend } from "../../crypto/mod.ts";
import { KeyCache } from "./key_cache.ts";

Deno.test("KeyCache: bounded, least recently used out, evicted keys imported again", async () => {
  const backend = defaultBackend();
  const names = ["alice", "bob", "carol"];
  const keys = await Promise.all(names.map((n) => backend.importPrivate(fixturePem(n))));
  const cache = new KeyCache(backend, 2);
  cache.put(keys[0]!.publicKey);
  cache.put(keys[1]!.publicKey);
  assert.equal(await cache.get(keys[0]!.publicKey.spki), keys[0]!.publicKey, "a hit");
  cache.put(keys[2]!.publicKey); // evicts bob, the least recently used
  assert.equal(cache.size, 2);
  const payload = { n: crypto.randomUUID() };
  const sig = await signPayload(backend, keys[1]!, payload);
  const again = await cache.get(keys[1]!.publicKey.spki);
  assert.ok(again !== undefined && again !== keys[1]!.publicKey, "imported again");
  assert.equal(await verifyPayload(backend, again, payload, sig), true);
  assert.equal(cache.size, 2);
  assert.equal(await cache.get("not a key"), undefined);
});
