/**
 * Self-tests of the independent reference client (tests/independent/ref_client.ts).
 *
 * Written from /work/shared/spec/SOCP-1.3.md only. No SOCP server is started here: these tests
 * check the client's own canonical JSON, encodings and crypto against the spec's examples and
 * against the Python/pyca-generated interop vectors in /work/shared/vectors (skipped when that
 * file is absent), plus the socket plumbing against a tiny in-process stub peer.
 */

import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { Buffer } from "node:buffer";
import { WebSocketServer } from "ws";
import type { WebSocket as WsSocket } from "ws";
import {
  b64Decode,
  b64Encode,
  b64uEncode,
  buildDirect,
  canonicalJson,
  contentSigPreimage,
  fixtureKeyPem,
  type Frame,
  importPublicKey,
  keyEquals,
  keyInfo,
  MAX_PLAINTEXT_BYTES,
  newUserId,
  oaepDecrypt,
  oaepEncrypt,
  openDelivered,
  pssSign,
  pssVerify,
  publicKeyText,
  pythonDumps,
  RefClient,
  RefClientError,
  signPayload,
  verifyContentSig,
  verifyKeyShareSig,
  verifyPayload,
} from "./ref_client.ts";

const VECTORS_PATH = "/work/shared/vectors/socp-1.3-vectors.json";

interface Vectors {
  key: {
    private_pkcs8_pem: string;
    public_spki_b64u: string;
    public_pem: string;
    public_pem_b64u: string;
    public_pkcs1_der_b64u: string;
  };
  weak_public_keys_must_be_rejected: Record<string, string>;
  canonical_json: { payload: unknown; canonical_ascii: string; canonical_utf8: string }[];
  transport_sig: { payload: unknown; sig_salt32: string; sig_salt478: string }[];
  dm: {
    ciphertext: string;
    plaintext: string;
    from: string;
    to: string;
    ts: number;
    content_sig: Record<"A" | "B" | "C" | "D", string>;
    content_sig_salt478_A: string;
  };
  public_channel: {
    ciphertext: string;
    from: string;
    ts: number;
    content_sig: Record<"A" | "B" | "C" | "D", string>;
  };
  key_share: { shares: unknown[]; creator_pub: string; preimage: string; content_sig: string };
  oaep_446_bytes: { plaintext_b64u: string; ciphertext: string; max_plaintext_bytes: number };
}

function loadVectors(): Vectors | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(VECTORS_PATH)) as Vectors;
  } catch {
    return undefined;
  }
}
const V = loadVectors();
const noVectors = V === undefined;

const alicePem = fixtureKeyPem("alice");
const bobPem = fixtureKeyPem("bob");
const alice = crypto.createPrivateKey(alicePem);
const bob = crypto.createPrivateKey(bobPem);
const enc = (s: string) => Buffer.from(s, "utf8");

// ---------------------------------------------------------------------------------------------
// Canonical JSON (§5.1)
// ---------------------------------------------------------------------------------------------

Deno.test("canonicalJson: spec §5.1 example (sorted at every level, \\u00eb)", () => {
  const payload = { user_id: "u1", meta: { pubkey: "K", display_name: "Zoë" }, server_id: "s1" };
  assert.equal(
    canonicalJson(payload),
    '{"meta":{"display_name":"Zo\\u00eb","pubkey":"K"},"server_id":"s1","user_id":"u1"}',
  );
  assert.equal(
    canonicalJson(payload, false),
    '{"meta":{"display_name":"Zoë","pubkey":"K"},"server_id":"s1","user_id":"u1"}',
  );
});

Deno.test("canonicalJson: Python json.dumps edge cases", () => {
  // Expected strings produced with CPython 3 json.dumps(..., sort_keys=True, separators=(",",":")).
  const v = {
    "\ue000": 1,
    "\u{1F600}": 2,
    "a\x7f": 0.5,
    f: [1e-7, 1.5e-5, 1e-4, 123.456],
  };
  assert.equal(
    canonicalJson(v),
    '{"a\\u007f":0.5,"f":[1e-07,1.5e-05,0.0001,123.456],"\\ue000":1,"\\ud83d\\ude00":2}',
  );
  // Code-point key order (U+E000 before U+1F600), unlike JS's UTF-16 order; DEL stays raw.
  assert.equal(
    canonicalJson({ "\ue000": 1, "\u{1F600}": 2, "a\x7f": 0.5 }, false),
    '{"a\x7f":0.5,"\ue000":1,"\u{1F600}":2}',
  );
  assert.equal(
    canonicalJson({ n: 1e21, m: -0, big: 2 ** 53 - 1 }), // ints print as Python ints
    '{"big":9007199254740991,"m":0,"n":1000000000000000000000}',
  );
  assert.equal(canonicalJson({ a: undefined, b: [undefined] }), '{"b":[null]}');
  assert.throws(() => canonicalJson({ x: NaN }), TypeError);
});

Deno.test("pythonDumps: default json.dumps envelope style", () => {
  assert.equal(
    pythonDumps({ type: "X", payload: { b: "é", a: [1, 2] } }),
    '{"type": "X", "payload": {"b": "\\u00e9", "a": [1, 2]}}',
  );
  const frame = { type: "T", payload: { s: 'a\u2028b😀"\\' } };
  assert.deepEqual(JSON.parse(pythonDumps(frame)), frame);
});

Deno.test({
  name: "canonicalJson: matches every Python vector (ascii and utf8 forms)",
  ignore: noVectors,
  fn() {
    for (const c of V!.canonical_json) {
      assert.equal(canonicalJson(c.payload, true), c.canonical_ascii);
      assert.equal(canonicalJson(c.payload, false), c.canonical_utf8);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Signatures (§5.1, P2, P3)
// ---------------------------------------------------------------------------------------------

Deno.test("PSS sign/verify round trip with the alice fixture, salt 478 and 32", () => {
  const pub = crypto.createPublicKey(alice);
  const data = enc(canonicalJson({ user_id: "u1", meta: { display_name: "Zoë" } }));
  for (const salt of [478, 32] as const) {
    const sig = pssSign(alice, data, salt);
    assert.equal(sig.length, 512);
    assert.ok(pssVerify(pub, data, sig), `auto-salt verify, salt ${salt}`);
    assert.ok(pssVerify(pub, data, b64uEncode(sig)), "base64url text accepted");
    assert.ok(pssVerify(pub, data, b64Encode(sig)), "padded standard base64 text accepted");
    // Prove the salt length really is `salt`: an explicit verifier accepts only that one.
    const explicit = (s: number) =>
      crypto.createVerify("sha256").update(data).verify(
        { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: s },
        sig,
      );
    assert.equal(explicit(salt), true);
    assert.equal(explicit(salt === 478 ? 32 : 478), false);
    assert.equal(pssVerify(pub, enc("tampered"), sig), false);
    assert.equal(pssVerify(crypto.createPublicKey(bob), data, sig), false);
  }
});

Deno.test("signPayload/verifyPayload: ascii canonical form, raw-UTF-8 fallback", () => {
  const pub = crypto.createPublicKey(alice);
  const payload = { z: 1, meta: { display_name: "Zoë" } };
  const sig = signPayload(alice, payload, 478);
  assert.match(sig, /^[A-Za-z0-9_-]{683}$/);
  assert.equal(verifyPayload(pub, { meta: { display_name: "Zoë" }, z: 1 }, sig), "ascii");
  const utf8Sig = b64uEncode(pssSign(alice, enc(canonicalJson(payload, false)), 32));
  assert.equal(verifyPayload(pub, payload, utf8Sig), "utf8");
  assert.equal(verifyPayload(pub, { ...payload, z: 2 }, sig), false);
  assert.equal(verifyPayload(pub, payload, ""), false);
  assert.equal(verifyPayload(pub, payload, "!!!"), false);
});

Deno.test({
  name: "verifyPayload: accepts the Python vectors' transport sigs (salt 32 and 478)",
  ignore: noVectors,
  fn() {
    for (const form of ["public_spki_b64u", "public_pem", "public_pem_b64u"] as const) {
      const pub = importPublicKey(V!.key[form]);
      for (const t of V!.transport_sig) {
        assert.equal(verifyPayload(pub, t.payload, t.sig_salt32), "ascii", form);
        assert.equal(verifyPayload(pub, t.payload, t.sig_salt478), "ascii", form);
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Keys and encodings (§5.3, P1)
// ---------------------------------------------------------------------------------------------

Deno.test("public key forms: PEM, base64url(PEM), DER SPKI all round-trip", () => {
  const pub = crypto.createPublicKey(alice);
  const spki = publicKeyText(pub, "spki_b64u");
  const pem = publicKeyText(alice, "pem");
  const pemB64u = publicKeyText(pub, "pem_b64u");
  assert.ok(spki.startsWith("MIICIjANBgkq") && spki.length === 734);
  assert.ok(pem.startsWith("-----BEGIN PUBLIC KEY-----"));
  assert.ok(pemB64u.startsWith("LS0tLS1CRUdJTi"));
  for (const t of [spki, pem, pemB64u, b64Encode(b64Decode(spki))]) {
    assert.ok(keyEquals(t, spki), t.slice(0, 20));
    assert.deepEqual(keyInfo(t), { bits: 4096, e: 65537n });
  }
  assert.equal(keyEquals(spki, publicKeyText(bob)), false);
  assert.equal(keyEquals(spki, "garbage"), false);
});

Deno.test({
  name: "public key forms: the vectors' four encodings agree; weak keys are identifiable",
  ignore: noVectors,
  fn() {
    const k = V!.key;
    for (const t of [k.public_pem, k.public_pem_b64u, k.public_pkcs1_der_b64u]) {
      assert.ok(keyEquals(t, k.public_spki_b64u));
    }
    const w = V!.weak_public_keys_must_be_rejected;
    assert.equal(keyInfo(w.rsa1024!).bits, 1024);
    assert.equal(keyInfo(w.rsa2048!).bits, 2048);
    assert.deepEqual(keyInfo(w.rsa4096_e3!), { bits: 4096, e: 3n });
  },
});

Deno.test("b64Decode: tolerant of alphabet and padding, strict about junk", () => {
  const bytes = Buffer.from([0xfb, 0xff, 0xbf, 0x00, 0x01]);
  for (const t of [b64uEncode(bytes), b64Encode(bytes), "-_-_AAE", "+/+/AAE=", " +/+/AAE= "]) {
    assert.deepEqual([...b64Decode(t)], [...bytes], t);
  }
  assert.equal(b64Encode(bytes), "+/+/AAE=");
  assert.equal(b64uEncode(bytes), "-_-_AAE");
  for (const bad of ["a", "ab$c", "ab cd", "abcde"]) {
    assert.throws(() => b64Decode(bad), RefClientError, bad);
  }
});

// ---------------------------------------------------------------------------------------------
// OAEP and content_sig (§5.2, §5.3, P4)
// ---------------------------------------------------------------------------------------------

Deno.test("OAEP-SHA256: 446 bytes fit one block, 447 do not", () => {
  const pub = crypto.createPublicKey(bob);
  const pt = crypto.randomBytes(MAX_PLAINTEXT_BYTES);
  const ct = oaepEncrypt(pub, pt);
  assert.equal(ct.length, 512);
  assert.deepEqual(oaepDecrypt(bob, ct), pt);
  assert.throws(() => oaepEncrypt(pub, crypto.randomBytes(447)));
  assert.throws(
    () =>
      buildDirect({
        from: "a",
        to: "b",
        toPubkey: publicKeyText(pub),
        plaintext: "x".repeat(447),
        privateKey: alice,
      }),
    RefClientError,
  );
});

Deno.test("contentSigPreimage: the spec's toy illustration (§5.2)", () => {
  const f = { ciphertext: "QUJD", from: "u-1", to: "u-2", ts: 1760000400000 };
  assert.equal(contentSigPreimage("A", f).toString(), "QUJDu-1u-21760000400000");
  assert.equal(contentSigPreimage("B", f).toString(), "ABCu-1u-21760000400000");
  assert.deepEqual(
    contentSigPreimage("C", f),
    crypto.createHash("sha256").update("ABCu-1u-21760000400000").digest(),
  );
  assert.equal(
    contentSigPreimage("D", f).toString(),
    '{"ciphertext":"QUJD","from":"u-1","to":"u-2","ts":1760000400000}',
  );
  const pub = { ciphertext: "QUJD", from: "u-1", ts: 1760000400000 };
  assert.equal(contentSigPreimage("A", pub).toString(), "QUJDu-11760000400000");
  assert.equal(
    contentSigPreimage("D", pub).toString(),
    '{"ciphertext":"QUJD","from":"u-1","ts":1760000400000}',
  );
});

Deno.test({
  name: "openDelivered: decrypts the vector DM and recognises content_sig variants A–D",
  ignore: noVectors,
  fn() {
    const d = V!.dm;
    const priv = crypto.createPrivateKey(V!.key.private_pkcs8_pem);
    const deliver = (content_sig: string, extra: Partial<Frame> = {}): Frame => ({
      type: "USER_DELIVER",
      from: "6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c",
      to: d.to,
      ts: d.ts,
      payload: {
        ciphertext: d.ciphertext,
        sender: d.from,
        sender_pub: V!.key.public_pem_b64u,
        content_sig,
      },
      sig: "",
      ...extra,
    });
    for (const v of ["A", "B", "C", "D"] as const) {
      const o = openDelivered(priv, d.to, deliver(d.content_sig[v]));
      assert.equal(o.plaintext, d.plaintext);
      assert.equal(o.sender, d.from);
      assert.equal(o.contentSigOk, true, v);
      assert.equal(o.variant, v);
    }
    assert.equal(openDelivered(priv, d.to, deliver(d.content_sig_salt478_A)).variant, "A");
    // Original ts only in the payload (orig_ts fallback, P6).
    const moved = deliver(d.content_sig.B, { ts: d.ts + 5 });
    moved.payload!.orig_ts = d.ts;
    assert.equal(openDelivered(priv, d.to, moved).contentSigOk, true);
    // Wrong ts / wrong sender → not authentic, but still decrypted.
    const bad = openDelivered(priv, d.to, deliver(d.content_sig.A, { ts: d.ts + 1 }));
    assert.equal(bad.contentSigOk, false);
    assert.equal(bad.plaintext, d.plaintext);
    const f2 = deliver(d.content_sig.A);
    f2.payload!.sender = d.to;
    assert.equal(openDelivered(priv, d.to, f2).contentSigOk, false);
  },
});

Deno.test({
  name: "verifyContentSig: public-channel vectors (no `to`), key-share vector",
  ignore: noVectors,
  fn() {
    const p = V!.public_channel;
    const pub = importPublicKey(V!.key.public_spki_b64u);
    for (const v of ["A", "B", "C", "D"] as const) {
      assert.equal(verifyContentSig(pub, p.content_sig[v], p), v);
    }
    const ks = V!.key_share;
    assert.equal(canonicalJson(ks.shares) + ks.creator_pub, ks.preimage);
    assert.equal(verifyKeyShareSig(ks.creator_pub, ks.shares, ks.content_sig), true);
    assert.equal(verifyKeyShareSig(ks.creator_pub, [], ks.content_sig), false);
    const o = V!.oaep_446_bytes;
    const priv = crypto.createPrivateKey(V!.key.private_pkcs8_pem);
    const pt = oaepDecrypt(priv, b64Decode(o.ciphertext));
    assert.equal(pt.length, o.max_plaintext_bytes);
    assert.deepEqual(pt, b64Decode(o.plaintext_b64u));
  },
});

Deno.test("buildDirect → (server relays) → openDelivered, across all sending variants", () => {
  const aliceId = newUserId();
  const bobId = newUserId();
  const bobPub = publicKeyText(bob, "spki_b64u");
  const text = "héllo bob 😀";
  for (const keyForm of ["pem", "pem_b64u", "spki_b64u"] as const) {
    for (const variant of ["A", "B", "D"] as const) {
      for (const ctEncoding of ["b64", "b64u"] as const) {
        for (const saltLength of [478, 32] as const) {
          const label = `${keyForm}/${variant}/${ctEncoding}/${saltLength}`;
          const f = buildDirect({
            from: aliceId,
            to: bobId,
            toPubkey: bobPub,
            plaintext: text,
            privateKey: alice,
            keyForm,
            variant,
            ctEncoding,
            saltLength,
          });
          assert.equal(f.type, "MSG_DIRECT");
          const p = f.payload as Record<string, string>;
          if (ctEncoding === "b64") assert.match(p.ciphertext!, /^[A-Za-z0-9+/]{683}=$/, label);
          else assert.match(p.ciphertext!, /^[A-Za-z0-9_-]{683}$/, label);
          assert.ok(keyEquals(p.sender_pub!, publicKeyText(alice)), label);
          assert.equal(verifyPayload(importPublicKey(p.sender_pub!), p, f.sig!), "ascii", label);
          // What a compliant server delivers (§3.6.2): payload + sender, original ts kept.
          const delivered: Frame = {
            type: "USER_DELIVER",
            from: "srv",
            to: bobId,
            ts: f.ts,
            payload: { ...p, sender: aliceId },
            sig: "x",
          };
          const o = openDelivered(bob, bobId, delivered);
          assert.deepEqual(
            [o.plaintext, o.sender, o.contentSigOk, o.variant],
            [text, aliceId, true, variant],
            label,
          );
        }
      }
    }
  }
  const pc = buildDirect({
    type: "MSG_PUBLIC_CHANNEL",
    from: aliceId,
    to: bobId,
    toPubkey: bobPub,
    plaintext: "to all",
    privateKey: alice,
    sign: false,
  });
  assert.equal(pc.sig, "");
  const o = openDelivered(bob, bobId, pc);
  assert.deepEqual([o.plaintext, o.sender, o.contentSigOk], ["to all", aliceId, true]);
});

// ---------------------------------------------------------------------------------------------
// Socket plumbing against an in-process stub peer (not a SOCP server; checks RefClient itself)
// ---------------------------------------------------------------------------------------------

/** A tiny in-process stub peer that speaks just enough of the server side for RefClient. */
async function withStub(
  fn: (stub: {
    url: string;
    serverId: string;
    serverPub: string;
    bobId: string;
    got: Frame[];
    raw: string[];
    peerClosed: Promise<number>;
  }) => Promise<void>,
): Promise<void> {
  const serverKey = crypto.createPrivateKey(fixtureKeyPem("server1"));
  const serverId = newUserId();
  const serverPub = publicKeyText(serverKey, "spki_b64u");
  const bobId = newUserId();
  const got: Frame[] = [];
  const raw: string[] = [];
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  const port = (wss.address() as { port: number }).port;
  const signed = (type: string, to: string, payload: Record<string, unknown>): string =>
    JSON.stringify({
      type,
      from: serverId,
      to,
      ts: Date.now(),
      payload,
      sig: signPayload(serverKey, payload, 32),
    });
  let resolveClosed: (code: number) => void = () => {};
  const peerClosed = new Promise<number>((r) => (resolveClosed = r));
  wss.on("connection", (sock: WsSocket) => {
    sock.on("close", (code: number) => resolveClosed(code));
    sock.on("message", (data: Buffer) => {
      const text = data.toString();
      raw.push(text);
      const f = JSON.parse(text) as Frame;
      got.push(f);
      if (f.type === "USER_HELLO" && f.from === "taken") {
        sock.send(signed("ERROR", "taken", { code: "NAME_IN_USE", detail: "already here" }));
        sock.close(1000);
      } else if (f.type === "USER_HELLO") {
        // A signed frame *before* the ACK: judged once the ACK teaches the server key.
        sock.send(signed("HEARTBEAT", f.from!, {}));
        sock.send(
          signed("ACK", f.from!, {
            msg_ref: "USER_HELLO",
            server_id: serverId,
            server_pub: serverPub,
          }),
        );
        sock.send(signed("USER_ADVERTISE", "*", {
          user_id: bobId,
          server_id: serverId,
          meta: { display_name: "Bob", pubkey: publicKeyText(bob) },
        }));
        // A forged frame (payload changed after signing) and an unsigned one.
        const forged = JSON.parse(signed("ERROR", f.from!, { code: "TIMEOUT", detail: "x" }));
        forged.payload.detail = "y";
        sock.send(JSON.stringify(forged));
        sock.send(JSON.stringify({ type: "PING", from: serverId, to: f.from, ts: 1, payload: {} }));
        sock.send("not json");
      } else if (f.type === "LIST_REQUEST") {
        sock.send(signed("LIST_RESPONSE", f.from!, {
          users: [bobId, f.from].sort(),
          entries: [{ user_id: bobId, server_id: serverId, pubkey: publicKeyText(bob) }],
        }));
      }
    });
  });
  try {
    await fn({ url: `ws://127.0.0.1:${port}`, serverId, serverPub, bobId, got, raw, peerClosed });
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  }
}

Deno.test("RefClient plumbing (stub peer): hello/ACK, server-sig accounting, next, list, close", async () => {
  await withStub(async ({ url, serverId, serverPub, bobId, got, raw, peerClosed }) => {
    const c = await RefClient.connect({
      url,
      privateKeyPem: alicePem,
      displayName: "Zoë",
      timeoutMs: 2000,
    });
    // What went on the wire for USER_HELLO: a Python-style dump with the tolerated variants.
    const hello = got[0]!;
    assert.equal(hello.type, "USER_HELLO");
    assert.equal(hello.from, c.userId);
    assert.equal(hello.to, "server");
    assert.equal(hello.sig, "");
    assert.equal(hello.payload!.client, "ref-v1");
    assert.equal("enc_pubkey" in hello.payload!, false);
    assert.ok(String(hello.payload!.pubkey).startsWith("-----BEGIN PUBLIC KEY-----"));
    assert.deepEqual(hello.payload!.meta, { display_name: "Zoë" });
    assert.ok(raw[0]!.startsWith('{"type": "USER_HELLO", "from": "'));
    assert.ok(raw[0]!.includes("Zo\\u00eb"));

    assert.equal(c.serverId, serverId);
    assert.ok(keyEquals(c.serverPub!, serverPub));
    const early = await c.next("HEARTBEAT");
    assert.equal(c.sigStatus(early), "ok", "pre-ACK frame verified once the key was learned");
    const adv = await c.next("USER_ADVERTISE");
    assert.equal(c.sigStatus(adv), "ok");
    assert.equal(c.directory.get(bobId)?.displayName, "Bob");
    assert.ok(keyEquals(c.directory.get(bobId)!.pubkey!, publicKeyText(bob)));
    const err = await c.next((f) => f.type === "ERROR");
    assert.equal(c.sigStatus(err), "bad");
    const ping = await c.next("PING");
    assert.equal(c.sigStatus(ping), "unsigned");
    assert.deepEqual(c.sigCounters, { ok: 3, bad: 1, unsigned: 1, foreign: 0, pending: 0 });
    assert.equal(c.allServerSigsOk, false);
    assert.throws(() => c.assertServerSigsOk(), /bad=1 unsigned=1/);

    await assert.rejects(c.next("NOPE", 50), /timed out after 50 ms waiting for NOPE/);
    assert.equal(await c.expectNone("NOPE", 20), undefined);
    assert.equal(c.buffered.length, 0);
    assert.deepEqual(c.nonJson, ["not json"]);

    const users = await c.list();
    assert.deepEqual(users, [bobId, c.userId].sort());
    const lr = got.at(-1)!;
    assert.equal(lr.type, "LIST_REQUEST");
    assert.equal(lr.to, serverId);
    assert.equal(verifyPayload(c.publicKey, lr.payload, lr.sig!), "ascii");
    assert.equal(c.sigCounters.ok, 4);

    const sent = await c.sendDirect(bobId, undefined, "hi"); // key from the directory
    await new Promise((r) => setTimeout(r, 50));
    const dm = got.at(-1)!;
    assert.equal(dm.type, "MSG_DIRECT");
    assert.deepEqual(dm, JSON.parse(JSON.stringify(sent)));
    assert.throws(() => c.openDeliver(dm), /cannot decrypt/); // encrypted to bob, not to us
    const o = openDelivered(bob, bobId, {
      ...dm,
      type: "USER_DELIVER",
      payload: { ...dm.payload, sender: c.userId },
    });
    assert.deepEqual([o.plaintext, o.contentSigOk, o.variant], ["hi", true, "B"]);

    const info = await c.close();
    assert.equal(info.code, 1000);
    assert.equal(await peerClosed, 1000);
    assert.equal(got.at(-1)!.type, "CTRL_CLOSE");
    assert.equal(raw.at(-1), '{"type": "CTRL_CLOSE"}');
    await assert.rejects(c.next("ANY", 10), /socket already closed \(code 1000\)/);
  });
});

Deno.test("RefClient plumbing (stub peer): HELLO variants, ERROR on hello, refused connect", async () => {
  await withStub(async ({ url, got, raw }) => {
    const c = await RefClient.connect({
      url,
      privateKeyPem: bobPem,
      keyForm: "pem_b64u",
      helloSig: "omit",
      helloTo: "*",
      sendEncPubkey: true,
      wireStyle: "compact",
    });
    const h = got[0]!;
    assert.equal("sig" in h, false);
    assert.equal(h.to, "*");
    assert.ok(String(h.payload!.pubkey).startsWith("LS0tLS1CRUdJTi"));
    assert.equal(h.payload!.enc_pubkey, h.payload!.pubkey);
    assert.ok(raw[0]!.startsWith('{"type":"USER_HELLO","from":"'));
    await c.next("PING"); // the last frame the stub sends after the ACK
    c.assertServerSigsOk(); // throws: the stub sent a forged and an unsigned frame
  }).then(
    () => assert.fail("expected assertServerSigsOk to throw"),
    (e) => assert.match(String(e), /server sigs not all verified/),
  );

  await withStub(async ({ url, got }) => {
    const c = await RefClient.connect({
      url,
      privateKeyPem: bobPem,
      keyForm: "spki_b64u",
      helloSig: "signed",
      saltLength: 32,
    });
    const h = got[0]!;
    assert.ok(String(h.payload!.pubkey).startsWith("MIICIjANBgkq"));
    assert.equal(verifyPayload(c.publicKey, h.payload, h.sig!), "ascii");
    await c.close();

    await assert.rejects(
      RefClient.connect({ url, userId: "taken", privateKeyPem: alicePem }),
      (e: unknown) => e instanceof RefClientError && e.code === "NAME_IN_USE",
    );
  });

  await assert.rejects(
    RefClient.open({ url: "ws://127.0.0.1:9", privateKeyPem: alicePem }),
    /connect ws:\/\/127\.0\.0\.1:9/,
  );
  await assert.rejects(RefClient.open({ url: "ws://127.0.0.1:9", privateKeyPem: "nope" }));
});
