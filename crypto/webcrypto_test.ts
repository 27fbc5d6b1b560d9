/**
 * The WebCrypto backend's own test: key generation. Everything else it must do is the shared
 * contract in `_backend_contract.ts`, run for both backends by `backend_contract_test.ts`
 * (generation runs there for OpenSSL only, so each backend generates exactly one key).
 */

import assert from "node:assert/strict";
import { b64uEncode } from "../protocol/base64url.ts";
import { webCrypto } from "./webcrypto.ts";

const MESSAGE = new TextEncoder().encode("a message worth signing");

Deno.test("webcrypto: generate() smoke test (its only key generation in the suite)", async () => {
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
