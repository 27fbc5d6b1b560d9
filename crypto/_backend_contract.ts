/**
 * The contract every {@linkcode RsaBackend} must meet, as one test suite to run against each
 * backend (see `backend_contract_test.ts`, which also runs the cross-backend tests). Test-only;
 * nothing outside `*_test.ts` imports it.
 *
 * It pins down what callers rely on: PSS-SHA256 salt 32 when signing, exactly salt 32 or 478
 * accepted when verifying, `false`/`undefined` (never a throw) for bad signatures and
 * ciphertexts, the exact 447-byte `RangeError`, canonical PKCS#8 export, `TypeError` for keys of
 * another backend, the shared SOCP 1.3 vectors, and private-key operations that stay bounded and
 * off the event loop.
 * @module
 */

import assert from "node:assert/strict";
import { constants, publicEncrypt, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { Buffer } from "node:buffer";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { parsePrivateKey } from "./key_import.ts";
import { verifyDm, verifyPayload } from "./signing.ts";
import { fixturePem, sharedVectors } from "./_test_support.ts";
import type { PrivateKey, PublicKey, RsaBackend } from "./types.ts";

/** Options the contract passes to a backend factory. */
export interface ContractBackendOptions {
  readonly privateOpsInFlightMax?: number;
}

/** Makes a backend, or `undefined` when it is not available here (its tests are then ignored). */
export type MakeBackend = (options?: ContractBackendOptions) => RsaBackend | undefined;

/** What else to run. */
export interface ContractConfig {
  /** Run the key generation smoke test (seconds per key, so only where asked). */
  readonly generate?: boolean;
}

/** The message the backends sign in these tests. */
export const MESSAGE: Uint8Array<ArrayBuffer> = new TextEncoder().encode("a message worth signing");

/** The exact `RangeError` message for a 447-byte plaintext. */
export const TOO_LONG_447 =
  "Cannot encrypt: plaintext is 447 bytes, RSA-4096 OAEP-SHA256 holds at most 446";

const imported = new WeakMap<RsaBackend, Map<string, Promise<PrivateKey>>>();

/** A fixture private key imported into `backend` (cached per backend and name). */
export function fixtureKeyIn(backend: RsaBackend, name: string): Promise<PrivateKey> {
  let keys = imported.get(backend);
  if (keys === undefined) imported.set(backend, keys = new Map());
  let key = keys.get(name);
  if (key === undefined) {
    key = backend.importPrivate(fixturePem(name));
    keys.set(name, key);
  }
  return key;
}

/** A PSS-SHA256 signature of `data` by a fixture key, made by node:crypto with `saltLength`. */
export function nodePssSign(name: string, data: Uint8Array, saltLength: number): Uint8Array {
  return new Uint8Array(
    nodeSign("sha256", data, {
      key: fixturePem(name),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength,
    }),
  );
}

/**
 * Registers the contract tests for one backend, each named `"<name>: ..."`. The backend is made
 * once, when this is called; if `makeBackend` returns `undefined` every test is ignored.
 */
export function runBackendContract(
  name: string,
  makeBackend: MakeBackend,
  config: ContractConfig = {},
): void {
  const made = makeBackend();
  const test = (title: string, fn: (backend: RsaBackend) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore: made === undefined,
      fn: () => fn(made!),
    });
  const V = sharedVectors();

  test("sign makes 512-byte PSS salt-32 signatures that verify", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const sig = await b.sign(alice, MESSAGE);
    assert.equal(sig.length, 512);
    assert.ok(await b.verify(alice.publicKey, MESSAGE, sig));
    // Salt 32 exactly: node:crypto with a pinned salt length agrees.
    assert.ok(nodeVerify("sha256", MESSAGE, {
      key: fixturePem("alice"),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    }, sig));
    // PSS is randomised: two signatures of one message differ.
    assert.notDeepEqual(await b.sign(alice, MESSAGE), sig);
  });

  test("verify accepts salt 478 (PSS.MAX) and 32, in any order, and refuses other salts", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const s478 = nodePssSign("alice", MESSAGE, 478);
    const s32 = nodePssSign("alice", MESSAGE, 32);
    // Alternate, so a backend that remembers the last salt per key is exercised both ways.
    for (const sig of [s478, s32, s478, s478, s32, s32, s478]) {
      assert.ok(await b.verify(alice.publicKey, MESSAGE, sig));
    }
    for (const salt of [0, 20, 31, 33, 477]) {
      const sig = nodePssSign("alice", MESSAGE, salt);
      assert.equal(await b.verify(alice.publicKey, MESSAGE, sig), false, `salt ${salt}`);
    }
  });

  test("verify returns false for wrong key, tampering, bad lengths, garbage", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const bob = await fixtureKeyIn(b, "bob");
    const sig = await b.sign(alice, MESSAGE);
    assert.equal(await b.verify(bob.publicKey, MESSAGE, sig), false);
    const other = MESSAGE.slice();
    other[0]! ^= 1;
    assert.equal(await b.verify(alice.publicKey, other, sig), false);
    for (const i of [0, 255, 511]) {
      const tampered = sig.slice();
      tampered[i]! ^= 0x01;
      assert.equal(await b.verify(alice.publicKey, MESSAGE, tampered), false, `byte ${i}`);
    }
    for (
      const bad of [
        new Uint8Array(0),
        sig.subarray(0, 511),
        new Uint8Array(512),
        new Uint8Array(513),
        new Uint8Array(512).fill(0xff), // larger than the modulus
        crypto.getRandomValues(new Uint8Array(512)),
        crypto.getRandomValues(new Uint8Array(512)),
      ]
    ) {
      assert.equal(await b.verify(alice.publicKey, MESSAGE, bad), false);
    }
    // Not even bytes: still false, never a throw.
    const notBytes = ["x".repeat(512), null, undefined, 42, Array.from(sig), sig.buffer];
    for (const junk of notBytes) {
      const asBytes = junk as unknown as Uint8Array;
      assert.equal(await b.verify(alice.publicKey, MESSAGE, asBytes), false);
      assert.equal(await b.verify(alice.publicKey, asBytes, sig), false);
    }
    // A good signature still verifies after all those failures.
    assert.ok(await b.verify(alice.publicKey, MESSAGE, sig));
  });

  test("sign/verify handle empty messages and views at an offset", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const empty = new Uint8Array(0);
    const sig = await b.sign(alice, empty);
    assert.ok(await b.verify(alice.publicKey, empty, sig));
    assert.equal(await b.verify(alice.publicKey, MESSAGE, sig), false);
    // A view into a larger buffer signs and verifies as its own bytes only.
    const big = new Uint8Array(MESSAGE.length + 10);
    big.set(MESSAGE, 5);
    const view = big.subarray(5, 5 + MESSAGE.length);
    const viewSig = await b.sign(alice, view);
    assert.ok(await b.verify(alice.publicKey, MESSAGE, viewSig));
    const sigInBig = new Uint8Array(600);
    sigInBig.set(viewSig, 7);
    assert.ok(await b.verify(alice.publicKey, view, sigInBig.subarray(7, 519)));
    // Bytes over a SharedArrayBuffer are fine too.
    const shared = new Uint8Array(new SharedArrayBuffer(MESSAGE.length));
    shared.set(MESSAGE);
    assert.ok(await b.verify(alice.publicKey, shared, await b.sign(alice, shared)));
  });

  test("OAEP round trip; node:crypto ciphertexts decrypt; bad ones give undefined", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const bob = await fixtureKeyIn(b, "bob");
    for (const size of [0, 1, 190, 446]) {
      const plain = crypto.getRandomValues(new Uint8Array(size));
      const ct = await b.encrypt(alice.publicKey, plain);
      assert.equal(ct.length, 512);
      assert.deepEqual(await b.decrypt(alice, ct), plain);
      assert.equal(await b.decrypt(bob, ct), undefined);
      const tampered = ct.slice();
      tampered[300]! ^= 0x10;
      assert.equal(await b.decrypt(alice, tampered), undefined);
    }
    // OAEP is randomised.
    assert.notDeepEqual(
      await b.encrypt(alice.publicKey, MESSAGE),
      await b.encrypt(alice.publicKey, MESSAGE),
    );
    const fromNode = publicEncrypt(
      { key: fixturePem("alice"), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      Buffer.from("from node"),
    );
    assert.equal(
      new TextDecoder().decode(await b.decrypt(alice, new Uint8Array(fromNode))),
      "from node",
    );
    // Wrong hash (OAEP-SHA1) does not decrypt.
    const sha1 = publicEncrypt(
      { key: fixturePem("alice"), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      Buffer.from("sha1"),
    );
    assert.equal(await b.decrypt(alice, new Uint8Array(sha1)), undefined);
    assert.equal(await b.decrypt(alice, new Uint8Array(512)), undefined);
    assert.equal(await b.decrypt(alice, new Uint8Array(512).fill(0xff)), undefined);
    assert.equal(await b.decrypt(alice, new Uint8Array(10)), undefined);
    assert.equal(await b.decrypt(alice, "x".repeat(512) as unknown as Uint8Array), undefined);
    await assert.rejects(b.encrypt(alice.publicKey, new Uint8Array(447)), RangeError);
    await assert.rejects(b.encrypt(alice.publicKey, new Uint8Array(4096)), /4096 bytes/);
  });

  test("exportPrivate gives the canonical PKCS#8 and round-trips", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const pkcs8 = await b.exportPrivate(alice);
    const canonical = parsePrivateKey(fixturePem("alice"));
    assert.ok(canonical.ok);
    assert.deepEqual(pkcs8, canonical.value.pkcs8Der);
    const again = await b.importPrivate(pkcs8);
    assert.equal(again.publicKey.spki, alice.publicKey.spki);
    const sig = await b.sign(again, MESSAGE);
    assert.ok(await b.verify(alice.publicKey, MESSAGE, sig));
    assert.equal(
      (await b.importPrivate(b64uEncode(pkcs8))).publicKey.spki,
      alice.publicKey.spki,
    );
  });

  test("keys that are not this backend's are a TypeError", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const fake: PublicKey = { spki: alice.publicKey.spki, handle: {} };
    const fakePrivate: PrivateKey = { publicKey: fake, handle: null };
    await assert.rejects(b.verify(fake, MESSAGE, new Uint8Array(512)), TypeError);
    await assert.rejects(b.encrypt(fake, MESSAGE), TypeError);
    await assert.rejects(b.sign(fakePrivate, MESSAGE), TypeError);
    await assert.rejects(b.sign({ publicKey: alice.publicKey, handle: {} }, MESSAGE), TypeError);
    await assert.rejects(b.decrypt(fakePrivate, new Uint8Array(512)), TypeError);
    await assert.rejects(b.exportPrivate(fakePrivate), TypeError);
    // A public handle is not a private key, nor the other way round.
    const swapped = { publicKey: alice.publicKey, handle: alice.publicKey.handle };
    await assert.rejects(b.sign(swapped, MESSAGE), TypeError);
    await assert.rejects(b.verify({ spki: "", handle: alice.handle }, MESSAGE, MESSAGE), TypeError);
  });

  test("bad private keys are a TypeError; garbage public keys a reason", async (b) => {
    for (const weak of ["weak1024", "weak2048", "e3"]) {
      await assert.rejects(b.importPrivate(fixturePem(weak)), TypeError);
    }
    await assert.rejects(b.importPrivate(""), TypeError);
    await assert.rejects(b.importPrivate(new Uint8Array([1, 2, 3])), TypeError);
    await assert.rejects(b.importPrivate(V.key.public_pem), TypeError);
    for (
      const junk of ["", "garbage!", "QUJD", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"]
    ) {
      const r = await b.importPublic(junk);
      assert.equal(r.ok, false);
    }
    assert.equal((await b.importPublic(42 as unknown as string)).ok, false);
  });

  test("a backend bounded to 1 private op still completes concurrent work", async () => {
    const bounded = makeBackend({ privateOpsInFlightMax: 1 })!;
    const alice = await bounded.importPrivate(fixturePem("alice"));
    const sigs = await Promise.all([1, 2, 3].map(() => bounded.sign(alice, MESSAGE)));
    for (const sig of sigs) assert.ok(await bounded.verify(alice.publicKey, MESSAGE, sig));
    const ct = await bounded.encrypt(alice.publicKey, MESSAGE);
    const plains = await Promise.all([1, 2, 3].map(() => bounded.decrypt(alice, ct)));
    for (const plain of plains) assert.deepEqual(plain, MESSAGE);
  });

  test("private-key operations run off the event loop", async (b) => {
    const alice = await fixtureKeyIn(b, "alice");
    const ct = await b.encrypt(alice.publicKey, MESSAGE);
    // A synchronous call does the work inside the call, so its Promise settles within a few
    // microtask turns, every time. Work on another thread comes back through the event loop, so
    // it is still pending after many microtask turns (and no macrotask) -- nearly always: on a
    // busy machine the other thread may finish before the call's first poll of its result, which
    // then settles at once. So the check fails only if every one of five calls settled that way.
    for (const op of [() => b.sign(alice, MESSAGE), () => b.decrypt(alice, ct)]) {
      let pendingAfterMicrotasks = 0;
      for (let trial = 0; trial < 5; trial++) {
        let settled = false;
        const pending = op().then((result) => {
          settled = true;
          return result;
        });
        for (let i = 0; i < 100; i++) await Promise.resolve();
        if (!settled) pendingAfterMicrotasks++;
        assert.ok(await pending);
      }
      assert.ok(pendingAfterMicrotasks > 0, "private-key operations settle without the event loop");
    }
    // Eight private operations take tens of ms; a timer must get in before they end.
    let settled = false;
    const work = Promise.all([
      ...[1, 2, 3, 4, 5, 6].map(() => b.sign(alice, MESSAGE)),
      b.decrypt(alice, ct),
      b.decrypt(alice, ct),
    ]).then((results) => {
      settled = true;
      return results;
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(settled, false, "the timer ran only after all private-key work finished");
    const results = await work;
    for (const sig of results.slice(0, 6)) {
      assert.ok(await b.verify(alice.publicKey, MESSAGE, sig as Uint8Array));
    }
    assert.deepEqual(results[6], MESSAGE);
  });

  // The shared SOCP 1.3 vectors (pyca/cryptography), for the backend-dependent parts.

  const vectorPublic = async (b: RsaBackend): Promise<PublicKey> => {
    const imported = await b.importPublic(V.key.public_spki_b64u);
    assert.ok(imported.ok, "vector public key imports");
    return imported.key;
  };

  test("vectors: transport_sig with salt 32 and 478 verify; tampering fails", async (b) => {
    const pub = await vectorPublic(b);
    for (const c of V.transport_sig) {
      assert.ok(await verifyPayload(b, pub, c.payload, c.sig_salt32), "salt 32");
      assert.ok(await verifyPayload(b, pub, c.payload, c.sig_salt478), "salt 478");
    }
    const c = V.transport_sig[0];
    for (const good of [c.sig_salt32, c.sig_salt478]) {
      const sig = b64uDecode(good)!;
      sig[100]! ^= 0x01;
      assert.equal(await verifyPayload(b, pub, c.payload, b64uEncode(sig)), false);
    }
    const changed = { ...c.payload, user_id: "someone-else" };
    assert.equal(await verifyPayload(b, pub, changed, c.sig_salt32), false);
    assert.equal(await verifyPayload(b, pub, changed, c.sig_salt478), false);
    assert.equal(await verifyPayload(b, pub, c.payload, ""), false);
    assert.equal(await verifyPayload(b, pub, c.payload, "not base64 !"), false);
    assert.equal(await verifyPayload(b, pub, c.payload, c.sig_salt32.slice(0, 100)), false);
    assert.equal(
      await verifyPayload(b, pub, c.payload, V.transport_sig[1].sig_salt32),
      false,
    );
  });

  test("vectors: DM content_sig variants A-D and salt-478 A verify", async (b) => {
    const pub = await vectorPublic(b);
    const dm = { ciphertext: V.dm.ciphertext, from: V.dm.from, to: V.dm.to, ts: V.dm.ts };
    for (const variant of ["A", "B", "C", "D"] as const) {
      assert.equal(await verifyDm(b, pub, dm, V.dm.content_sig[variant]), variant);
    }
    assert.equal(await verifyDm(b, pub, dm, V.dm.content_sig_salt478_A), "A");
    assert.equal(await verifyDm(b, pub, { ...dm, ts: dm.ts + 1 }, V.dm.content_sig.A), undefined);
  });

  test("vectors: DM plaintext and oaep_446_bytes decrypt; 447 bytes is a RangeError", async (b) => {
    const key = await b.importPrivate(V.key.private_pkcs8_pem);
    const dm = await b.decrypt(key, b64uDecode(V.dm.ciphertext)!);
    assert.equal(new TextDecoder().decode(dm), V.dm.plaintext);
    const o = V.oaep_446_bytes;
    assert.equal(o.max_plaintext_bytes, 446);
    const plain = await b.decrypt(key, b64uDecode(o.ciphertext)!);
    assert.deepEqual(plain, b64uDecode(o.plaintext_b64u));
    assert.equal(plain!.length, 446);
    await assert.rejects(
      b.encrypt(key.publicKey, new Uint8Array(447)),
      (e: unknown) => e instanceof RangeError && e.message === TOO_LONG_447,
    );
    const ct = await b.encrypt(key.publicKey, plain!);
    assert.equal(ct.length, 512);
    assert.deepEqual(await b.decrypt(key, ct), plain);
  });

  test("vectors: every key form imports to the same SPKI", async (b) => {
    const k = V.key;
    for (
      const form of [k.public_spki_b64u, k.public_pem, k.public_pem_b64u, k.public_pkcs1_der_b64u]
    ) {
      const imported = await b.importPublic(form);
      assert.ok(imported.ok, imported.ok ? "" : imported.reason);
      assert.equal(imported.key.spki, k.public_spki_b64u);
    }
    const priv = await b.importPrivate(k.private_pkcs8_pem);
    assert.equal(priv.publicKey.spki, k.public_spki_b64u);
  });

  test("vectors: weak public keys are rejected via importPublic with a reason", async (b) => {
    const w = V.weak_public_keys_must_be_rejected;
    const cases: Array<[string, string]> = [
      [w.rsa1024, "RSA key is 1024 bits; SOCP requires 4096"],
      [w.rsa2048, "RSA key is 2048 bits; SOCP requires 4096"],
      [w.rsa4096_e3, "RSA public exponent is 3; SOCP requires 65537"],
    ];
    for (const [text, reason] of cases) {
      assert.deepEqual(await b.importPublic(text), { ok: false, reason });
    }
  });

  if (config.generate) {
    test("generate() smoke test (one key)", async (b) => {
      let settled = false;
      const generating = b.generate().then((key) => {
        settled = true;
        return key;
      });
      // Seconds of work: it must run off the event loop (see "run off the event loop" above;
      // no other thread finishes a key before the first poll).
      for (let i = 0; i < 100; i++) await Promise.resolve();
      assert.equal(settled, false, "generate() settled without the event loop");
      const key = await generating;
      assert.match(key.publicKey.spki, /^MIICIjANBgkq/);
      assert.equal(key.publicKey.spki.length, 734);
      const reimported = await b.importPublic(key.publicKey.spki);
      assert.ok(reimported.ok);
      const sig = await b.sign(key, MESSAGE);
      assert.ok(await b.verify(reimported.key, MESSAGE, sig));
      const ct = await b.encrypt(reimported.key, MESSAGE);
      assert.deepEqual(await b.decrypt(key, ct), MESSAGE);
      const pkcs8 = await b.exportPrivate(key);
      assert.equal((await b.importPrivate(b64uEncode(pkcs8))).publicKey.spki, key.publicKey.spki);
      // node:crypto reads the key too and agrees it is RSA-4096 with e = 65537.
      const parsed = parsePrivateKey(pkcs8);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.reason);
      assert.ok(nodeVerify("sha256", MESSAGE, {
        key: Buffer.from(parsed.value.spkiDer),
        format: "der",
        type: "spki",
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      }, sig));
    });
  }
}
