// Goal: the browser client's crypto (web/src, WebCrypto only) is byte-compatible with the
// server's and the terminal client's: the same keystore file opens in both, content_sig
// preimages are identical, signatures and ciphertexts cross over both ways, keys are imported as
// tolerantly and refused as strictly. Runs in Deno (WebCrypto is the same API as in browsers).
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { Buffer } from "node:buffer";
import { webCrypto } from "../crypto/webcrypto.ts";
import {
  dmPreimages,
  keySharePreimages,
  manifestBytes,
  publicPreimages,
} from "../crypto/preimages.ts";
import {
  signDm as serverSignDm,
  signManifest as serverSignManifest,
  signPayload as serverSignPayload,
  signPublic as serverSignPublic,
  verifyDm as serverVerifyDm,
  verifyManifest as serverVerifyManifest,
  verifyPayload as serverVerifyPayload,
  verifyPublic as serverVerifyPublic,
} from "../crypto/signing.ts";
import { sha256Hex } from "../crypto/hash.ts";
import {
  openKeystore as cliOpenKeystore,
  sealKeystore as cliSealKeystore,
  WrongPassphraseError as CliWrongPassphrase,
} from "../client/keystore.ts";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import * as rsa from "../web/src/rsa.ts";
import * as sig from "../web/src/signing.ts";
import {
  openKeystore,
  parseKeystore,
  sealKeystore,
  WrongPassphraseError,
} from "../web/src/keystore.ts";
import { errorSentence, readFrame } from "../client/core/wire.ts";
import { splitUtf8 } from "../protocol/text.ts";
import { fixtureKeyPath } from "./harness/processes.ts";

const pem = (name: string) => Deno.readTextFileSync(fixtureKeyPath(name));
const pkcs8 = (name: string) =>
  new Uint8Array(createPrivateKey(pem(name)).export({ type: "pkcs8", format: "der" }));

Deno.test("web keystore: same file format as the terminal client, both directions", async () => {
  const serverKey = await webCrypto.importPrivate(pem("alice"));
  const file = await cliSealKeystore(webCrypto, serverKey, "user-a", "correct horse");
  // Terminal -> browser.
  const pair = await openKeystore(parseKeystore(JSON.stringify(file)), "correct horse");
  assert.equal(pair.publicKey.spki, serverKey.publicKey.spki);
  await assert.rejects(openKeystore(file, "wrong horse"), WrongPassphraseError);
  // The unlocked key cannot be read back out of WebCrypto.
  await assert.rejects(crypto.subtle.exportKey("pkcs8", pair.pss));
  // Browser -> terminal (the exported file is what the page downloads).
  const extractable = await rsa.importPkcs8(pkcs8("alice"), { extractable: true });
  const sealed = await sealKeystore(extractable, "user-b", "battery staple");
  assert.deepEqual(Object.keys(sealed).sort(), Object.keys(file).sort());
  assert.equal(sealed.kdf.iterations, 600_000);
  const back = await cliOpenKeystore(webCrypto, sealed, "battery staple");
  assert.equal(back.publicKey.spki, serverKey.publicKey.spki);
  await assert.rejects(cliOpenKeystore(webCrypto, sealed, "nope"), CliWrongPassphrase);
  // The user id is bound: a blob moved to another id does not open.
  await assert.rejects(
    openKeystore({ ...sealed, user_id: "user-c" }, "battery staple"),
    WrongPassphraseError,
  );
});

Deno.test("web keystore: files that are not keystores are refused with a clear reason", () => {
  assert.throws(() => parseKeystore("not json"), /not JSON/);
  assert.throws(() => parseKeystore('{"format":"x"}'), /not a SOCP keystore/);
  assert.throws(
    () => parseKeystore('{"format":"socp-keystore-v1","user_id":"u","pubkey":"k"}'),
    /damaged/,
  );
  const huge = {
    format: "socp-keystore-v1",
    user_id: "u",
    pubkey: "k",
    kdf: { name: "PBKDF2-SHA256", iterations: 1e12, salt: "AA" },
    cipher: { name: "AES-256-GCM", iv: "AA", ciphertext: "AA" },
  };
  assert.throws(() => parseKeystore(JSON.stringify(huge)), /damaged/);
});

Deno.test("web preimages are byte-identical to the server's (variants A-D, manifest)", async () => {
  const ciphertext = b64uEncode(crypto.getRandomValues(new Uint8Array(512)));
  const dm = { ciphertext, from: "u-1", to: "u-2", ts: 1760000400000 };
  const pub = { ciphertext, from: "u-1", ts: 1760000400001 };
  const mine = await sig.dmPreimages(dm);
  const theirs = dmPreimages(dm);
  const minePub = await sig.publicPreimages(pub);
  const theirsPub = publicPreimages(pub);
  for (const v of ["A", "B", "C", "D"] as const) {
    assert.deepEqual(mine[v], theirs[v], `DM variant ${v}`);
    assert.deepEqual(minePub[v], theirsPub[v], `public variant ${v}`);
  }
  const manifest = {
    file_id: "f",
    name: "résumé ✓.pdf",
    size: 12,
    sha256: "ab".repeat(32),
    mode: "dm",
    from: "u-1",
    to: "u-2",
    ts: 1,
  };
  for (const form of ["ascii", "utf8"] as const) {
    assert.deepEqual(sig.manifestBytes(manifest, form), manifestBytes(manifest, form));
  }
  // Non-base64 ciphertext: B and C cannot be formed, on both sides.
  assert.equal((await sig.dmPreimages({ ...dm, ciphertext: "***" })).B, undefined);
});

Deno.test("web signatures and ciphertexts cross over with the server's crypto both ways", async () => {
  const serverKey = await webCrypto.importPrivate(pem("alice"));
  const pair = await rsa.importPkcs8(pkcs8("alice"));
  assert.equal(pair.publicKey.spki, serverKey.publicKey.spki);
  const serverPub = serverKey.publicKey;
  const ciphertext = b64uEncode(await rsa.encrypt(pair.publicKey, new TextEncoder().encode("hi")));
  const dm = { ciphertext, from: "u-1", to: "u-2", ts: 1760000400000 };
  const pub = { ciphertext, from: "u-1", ts: 1760000400000 };
  const payload = { b: "Zoë", a: [1, { z: 2, y: 3 }] };
  const manifest = {
    file_id: "f",
    name: "ü.txt",
    size: 3,
    sha256: "00".repeat(32),
    mode: "dm",
    from: "u-1",
    to: "u-2",
    ts: 5,
  };
  // Browser signs, server verifies.
  assert.equal(await serverVerifyDm(webCrypto, serverPub, dm, await sig.signDm(pair, dm)), "A");
  assert.equal(
    await serverVerifyPublic(webCrypto, serverPub, pub, await sig.signPublic(pair, pub)),
    "A",
  );
  assert.ok(
    await serverVerifyPayload(webCrypto, serverPub, payload, await sig.signPayload(pair, payload)),
  );
  assert.ok(
    await serverVerifyManifest(
      webCrypto,
      serverPub,
      manifest,
      await sig.signManifest(pair, manifest),
    ),
  );
  // Server signs, browser verifies.
  assert.equal(
    await sig.verifyDm(pair.publicKey, dm, await serverSignDm(webCrypto, serverKey, dm)),
    "A",
  );
  assert.equal(
    await sig.verifyPublic(pair.publicKey, pub, await serverSignPublic(webCrypto, serverKey, pub)),
    "A",
  );
  assert.ok(
    await sig.verifyPayload(
      pair.publicKey,
      payload,
      await serverSignPayload(webCrypto, serverKey, payload),
    ),
  );
  assert.ok(
    await sig.verifyManifest(
      pair.publicKey,
      manifest,
      await serverSignManifest(webCrypto, serverKey, manifest),
    ),
  );
  // Tampering is caught; variant B (raw ciphertext bytes) is accepted like on the server.
  assert.equal(
    await sig.verifyDm(pair.publicKey, { ...dm, ts: dm.ts + 1 }, await sig.signDm(pair, dm)),
    undefined,
  );
  const b = (await sig.dmPreimages(dm)).B!;
  assert.equal(
    await sig.verifyDm(pair.publicKey, dm, b64uEncode(await webCrypto.sign(serverKey, b))),
    "B",
  );
  // Ciphertexts both ways, and the 446-byte block limit.
  const secret = crypto.getRandomValues(new Uint8Array(446));
  const forServer = await rsa.encrypt(pair.publicKey, secret);
  assert.deepEqual(await webCrypto.decrypt(serverKey, forServer), secret);
  const forBrowser = await webCrypto.encrypt(serverPub, secret);
  assert.deepEqual(await rsa.decrypt(pair, forBrowser), secret);
  await assert.rejects(rsa.encrypt(pair.publicKey, new Uint8Array(447)), RangeError);
  assert.equal(await rsa.decrypt(pair, new Uint8Array(512)), undefined);
  // A salt-478 (PSS.MAX) signature, as most Python peers make, verifies too.
  const max = await crypto.subtle.sign(
    { name: "RSA-PSS", saltLength: 478 },
    pair.pss,
    new TextEncoder().encode("x"),
  );
  assert.ok(await rsa.verify(pair.publicKey, new TextEncoder().encode("x"), new Uint8Array(max)));
});

Deno.test("web key import: every tolerated form, strict about size and exponent", async () => {
  const key = createPublicKey(pem("bob"));
  const spkiDer = new Uint8Array(key.export({ type: "spki", format: "der" }));
  const canonical = b64uEncode(spkiDer);
  const forms = {
    "base64url DER SPKI": canonical,
    "padded standard base64": Buffer.from(spkiDer).toString("base64"),
    "PEM": key.export({ type: "spki", format: "pem" }) as string,
    "base64url(PEM)": b64uEncode(
      new TextEncoder().encode(key.export({ type: "spki", format: "pem" }) as string),
    ),
    "PKCS#1 PEM": key.export({ type: "pkcs1", format: "pem" }) as string,
    "PKCS#1 DER": b64uEncode(new Uint8Array(key.export({ type: "pkcs1", format: "der" }))),
  };
  for (const [form, text] of Object.entries(forms)) {
    const got = await rsa.importPublic(text);
    assert.ok(got.ok, `${form}: ${!got.ok && got.reason}`);
    assert.equal(got.key.spki, canonical, form);
    assert.equal(got.key.fingerprint.replaceAll(" ", ""), sha256Hex(spkiDer));
    assert.match(got.key.fingerprint, /^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  }
  const spkiOf = (name: string) =>
    b64uEncode(
      new Uint8Array(createPublicKey(pem(name)).export({ type: "spki", format: "der" })),
    );
  for (
    const [name, reason] of [["weak1024", /RSA-1024/], ["weak2048", /RSA-2048/], [
      "e3",
      /exponent 3/,
    ]] as const
  ) {
    const got = await rsa.importPublic(spkiOf(name));
    assert.ok(!got.ok && reason.test(got.reason), `${name}: ${JSON.stringify(got)}`);
  }
  for (
    const junk of [
      "",
      "***",
      b64uEncode(new Uint8Array(300)),
      "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----",
      42,
    ]
  ) {
    assert.equal((await rsa.importPublic(junk)).ok, false, String(junk).slice(0, 20));
  }
  await assert.rejects(rsa.importPkcs8(pkcs8("weak2048")), /RSA-2048/);
  await assert.rejects(rsa.importPkcs8(new Uint8Array(10)), TypeError);
});

Deno.test("web wire helpers: untrusted frames, UTF-8 splitting, error sentences", () => {
  assert.equal(readFrame("nope").frame, undefined);
  assert.equal(readFrame("[1]").frame, undefined);
  assert.equal(readFrame('{"type":1}').frame, undefined);
  assert.equal(
    readFrame('{"type":"ACK","from":"s","to":"u","ts":"1","payload":{}}').frame,
    undefined,
  );
  assert.equal(
    readFrame('{"type":"ACK","from":"s","to":"u","ts":1,"payload":[]}').frame,
    undefined,
  );
  assert.equal(readFrame("x".repeat(300_000)).problem, "frame too large");
  const ok = readFrame('{"type":"ACK","from":"s","to":"u","ts":1,"payload":{"msg_ref":"X"}}');
  assert.equal(ok.frame?.sig, "");
  assert.equal(readFrame('{"type":"CTRL_CLOSE"}').frame?.type, "CTRL_CLOSE");
  const pieces = splitUtf8("é".repeat(300), 446);
  assert.deepEqual(pieces.map((p) => p.length), [446, 154]);
  assert.equal(
    new TextDecoder().decode(new Uint8Array([...pieces[0]!, ...pieces[1]!])),
    "é".repeat(300),
  );
  const codes = [
    "USER_NOT_FOUND",
    "INVALID_SIG",
    "BAD_KEY",
    "TIMEOUT",
    "UNKNOWN_TYPE",
    "NAME_IN_USE",
  ];
  const sentences = new Set(codes.map(errorSentence));
  assert.equal(sentences.size, 6, "each standard code has its own sentence");
  assert.ok(!sentences.has(errorSentence("SOMETHING_ELSE")));
  assert.ok(b64uDecode("AA") !== undefined);
});

Deno.test("the browser verifies a public-channel key share in each form of §5.2", async () => {
  const serverKey = await webCrypto.importPrivate(pem("alice"));
  const pair = await rsa.importPkcs8(pkcs8("alice"));
  const creatorPub = serverKey.publicKey.spki;
  const shares = [{ wrapped_public_channel_key: "abc", member: "u-1" }];
  const preimages = keySharePreimages(shares, creatorPub);
  for (const variant of ["A", "B", "C", "D"] as const) {
    const signature = b64uEncode(await webCrypto.sign(serverKey, preimages[variant]!));
    assert.equal(
      await sig.verifyKeyShare(pair.publicKey, shares, creatorPub, signature),
      variant,
      `layout ${variant}`,
    );
  }
  const a = b64uEncode(await webCrypto.sign(serverKey, preimages.A!));
  const other = [{ wrapped_public_channel_key: "abd", member: "u-1" }];
  assert.equal(await sig.verifyKeyShare(pair.publicKey, other, creatorPub, a), undefined);
});
