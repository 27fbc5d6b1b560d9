/**
 * The backend contract (`_backend_contract.ts`) against WebCrypto and OpenSSL, then across them:
 * what one signs or encrypts, the other verifies or decrypts, in both directions. Last, the
 * OpenSSL-only checks: the error queue stays clean and repeated calls do not leak.
 */

import assert from "node:assert/strict";
import { b64uDecode } from "../protocol/base64url.ts";
import {
  fixtureKeyIn,
  MESSAGE,
  nodePssSign,
  runBackendContract,
  TOO_LONG_447,
} from "./_backend_contract.ts";
import { createOpenSslBackend } from "./openssl.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
import { fastLibCrypto, fixturePem, sharedVectors } from "./_test_support.ts";
import type { RsaBackend } from "./types.ts";
import { createWebCryptoBackend, webCrypto } from "./webcrypto.ts";

let unavailable = "";
const openssl = createOpenSslBackend({ onUnavailable: (reason) => unavailable = reason });
if (openssl === undefined) console.error(`OpenSSL tests ignored: ${unavailable}`);

runBackendContract("webcrypto", (options) => createWebCryptoBackend(options));
runBackendContract("openssl", (options) => createOpenSslBackend(options), { generate: true });
// The current OpenSSL from the user's cache, the one the server prefers (see libcrypto_cache.ts).
const fast = fastLibCrypto().path;
runBackendContract(
  `openssl ${FAST_LIBCRYPTO.version}`,
  (options) =>
    fast === undefined ? undefined : createOpenSslBackend({ ...options, libraryPath: fast }),
  { generate: true },
);

// ---------------------------------------------------------------------------------------------
// Across backends

const pairs: Array<[string, RsaBackend, RsaBackend | undefined]> = [
  ["webcrypto -> openssl", webCrypto, openssl],
  ["openssl -> webcrypto", openssl ?? webCrypto, openssl && webCrypto],
];

for (const [label, from, to] of pairs) {
  const cross = (title: string, fn: (from: RsaBackend, to: RsaBackend) => Promise<void>) =>
    Deno.test({
      name: `cross ${label}: ${title}`,
      ignore: openssl === undefined,
      fn: () => fn(from, to!),
    });

  cross(
    "a signature verifies on the other backend, for the same key imported there",
    async (a, b) => {
      const aliceA = await fixtureKeyIn(a, "alice");
      const aliceB = await fixtureKeyIn(b, "alice");
      assert.equal(aliceA.publicKey.spki, aliceB.publicKey.spki);
      for (
        const data of [MESSAGE, new Uint8Array(0), crypto.getRandomValues(new Uint8Array(5000))]
      ) {
        const sig = await a.sign(aliceA, data);
        assert.ok(await b.verify(aliceB.publicKey, data, sig));
        // Through the public key alone, as a peer would receive it.
        const pub = await b.importPublic(aliceA.publicKey.spki);
        assert.ok(pub.ok);
        assert.ok(await b.verify(pub.key, data, sig));
        const tampered = sig.slice();
        tampered[42]! ^= 0x04;
        assert.equal(await b.verify(pub.key, data, tampered), false);
        const bobB = await fixtureKeyIn(b, "bob");
        assert.equal(await b.verify(bobB.publicKey, data, sig), false);
      }
    },
  );

  cross("a ciphertext decrypts on the other backend", async (a, b) => {
    const bobB = await fixtureKeyIn(b, "bob");
    const pubInA = await a.importPublic(bobB.publicKey.spki);
    assert.ok(pubInA.ok);
    for (const size of [0, 1, 190, 446]) {
      const plain = crypto.getRandomValues(new Uint8Array(size));
      const ct = await a.encrypt(pubInA.key, plain);
      assert.deepEqual(await b.decrypt(bobB, ct), plain);
      assert.equal(await b.decrypt(await fixtureKeyIn(b, "alice"), ct), undefined);
    }
    await assert.rejects(
      a.encrypt(pubInA.key, new Uint8Array(447)),
      (e: unknown) => e instanceof RangeError && e.message === TOO_LONG_447,
    );
  });

  cross("exportPrivate of one imports into the other, byte for byte", async (a, b) => {
    const carolA = await fixtureKeyIn(a, "carol");
    const pkcs8 = await a.exportPrivate(carolA);
    const carolB = await b.importPrivate(pkcs8);
    assert.equal(carolB.publicKey.spki, carolA.publicKey.spki);
    assert.deepEqual(await b.exportPrivate(carolB), pkcs8);
    const sig = await b.sign(carolB, MESSAGE);
    assert.ok(await a.verify(carolA.publicKey, MESSAGE, sig));
    const ct = await a.encrypt(carolA.publicKey, MESSAGE);
    assert.deepEqual(await b.decrypt(carolB, ct), MESSAGE);
  });

  cross("salt 478 signatures verify on both; other salts on neither", async (a, b) => {
    const aliceA = await fixtureKeyIn(a, "alice");
    const aliceB = await fixtureKeyIn(b, "alice");
    for (const salt of [32, 478]) {
      const sig = nodePssSign("alice", MESSAGE, salt);
      assert.ok(await a.verify(aliceA.publicKey, MESSAGE, sig));
      assert.ok(await b.verify(aliceB.publicKey, MESSAGE, sig));
    }
    const sig0 = nodePssSign("alice", MESSAGE, 0);
    assert.equal(await a.verify(aliceA.publicKey, MESSAGE, sig0), false);
    assert.equal(await b.verify(aliceB.publicKey, MESSAGE, sig0), false);
  });

  cross("a key of one backend is a TypeError in the other (convert explicitly)", async (a, b) => {
    const aliceA = await fixtureKeyIn(a, "alice");
    await assert.rejects(b.verify(aliceA.publicKey, MESSAGE, new Uint8Array(512)), TypeError);
    await assert.rejects(b.encrypt(aliceA.publicKey, MESSAGE), TypeError);
    await assert.rejects(b.sign(aliceA, MESSAGE), TypeError);
    await assert.rejects(b.decrypt(aliceA, new Uint8Array(512)), TypeError);
    await assert.rejects(b.exportPrivate(aliceA), TypeError);
  });
}

Deno.test({
  name: "cross: a key exported by OpenSSL works in WebCrypto and back",
  ignore: openssl === undefined,
  async fn() {
    // The contract's openssl generate test covers generation; this one is about DER interchange
    // of a key OpenSSL exported (the pyca-made vector key, so no second key is generated).
    const V = sharedVectors();
    const o = await openssl!.importPrivate(V.key.private_pkcs8_pem);
    const w = await webCrypto.importPrivate(await openssl!.exportPrivate(o));
    const back = await openssl!.importPrivate(await webCrypto.exportPrivate(w));
    assert.equal(back.publicKey.spki, V.key.public_spki_b64u);
    assert.ok(await webCrypto.verify(w.publicKey, MESSAGE, await openssl!.sign(back, MESSAGE)));
    assert.ok(await openssl!.verify(back.publicKey, MESSAGE, await webCrypto.sign(w, MESSAGE)));
    const plain = await openssl!.decrypt(back, b64uDecode(V.oaep_446_bytes.ciphertext)!);
    assert.deepEqual(plain, await webCrypto.decrypt(w, b64uDecode(V.oaep_446_bytes.ciphertext)!));
  },
});

// ---------------------------------------------------------------------------------------------
// OpenSSL only

Deno.test({
  name: "openssl: failures leave the main thread's OpenSSL error queue empty",
  ignore: openssl === undefined,
  async fn() {
    // The same libcrypto, opened again: dlopen hands back the loaded library, and the error
    // queue is per thread, so this sees exactly what the backend left behind on this thread.
    const lib = Deno.dlopen(openssl!.library!.path, {
      ERR_peek_error: { parameters: [], result: "u64" },
    });
    try {
      const clean = () => assert.equal(BigInt(lib.symbols.ERR_peek_error()), 0n);
      const alice = await fixtureKeyIn(openssl!, "alice");
      clean();
      for (const bad of [new Uint8Array(512), new Uint8Array(512).fill(0xff)]) {
        assert.equal(await openssl!.verify(alice.publicKey, MESSAGE, bad), false);
        clean();
      }
      assert.equal(
        await openssl!.verify(alice.publicKey, MESSAGE, nodePssSign("alice", MESSAGE, 0)),
        false,
      );
      clean();
      assert.ok(
        await openssl!.verify(alice.publicKey, MESSAGE, nodePssSign("alice", MESSAGE, 478)),
      );
      clean();
      assert.equal(await openssl!.decrypt(alice, new Uint8Array(512)), undefined);
      clean();
      assert.equal((await openssl!.importPublic("QUJD")).ok, false);
      await assert.rejects(openssl!.importPrivate(fixturePem("weak1024")), TypeError);
      await assert.rejects(openssl!.encrypt(alice.publicKey, new Uint8Array(447)), RangeError);
      clean();
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "openssl: verify, encrypt, failed decrypt and dropped keys do not leak memory",
  // The probe reads glibc's malloc statistics.
  ignore: openssl === undefined || Deno.build.os !== "linux",
  async fn() {
    // In a process of its own: memory is per process and deno test runs modules side by side.
    const probe = new URL("./_openssl_leak_probe.ts", import.meta.url);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-read", "--v8-flags=--expose-gc", probe.href],
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, `probe failed: ${stdout}${new TextDecoder().decode(out.stderr)}`);
    const { mallocGrowth, rssGrowth } = JSON.parse(stdout.trim().split("\n").at(-1)!);
    // Measured here, per round of 2000 iterations after warm-up: malloc in use -13..+13 KB
    // (the first round sometimes 70-320 KB more: late warm-up). Leaking the EVP_PKEY_CTX of each
    // encrypt adds 550 KB, the EVP_PKEY of each dropped key (no finalizer) 240 KB, the EVP_MD_CTX
    // of each verify MiBs. A leak grows every round, so the smaller round is the one judged.
    const kib = (bytes: number[]) => bytes.map((b) => (b / 1024).toFixed(0)).join(", ");
    assert.ok(
      Math.min(...mallocGrowth) < 64 * 1024,
      `malloc in use grew ${kib(mallocGrowth)} KiB (RSS ${kib(rssGrowth)} KiB) per round`,
    );
  },
});
