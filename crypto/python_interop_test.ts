/**
 * Interop with the Python ecosystem most SOCP peers use (json + pyca/cryptography), both ways:
 * "ours verify theirs" against the checked-in tests/vectors/python_vectors.json, and "theirs
 * verify ours" by piping our outputs through `python3 tests/vectors/make_vectors.py verify`
 * (ignored when python3 or the cryptography module is missing).
 */

import assert from "node:assert/strict";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalJson } from "../protocol/canonical.ts";
import { sha256Hex } from "./hash.ts";
import type { FileManifest } from "./preimages.ts";
import {
  signDm,
  signKeyShare,
  signManifest,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyPayload,
  verifyPublic,
} from "./signing.ts";
import { fixtureKey, pythonVectors, repoPath } from "./_test_support.ts";
import { webCrypto } from "./webcrypto.ts";

const P = pythonVectors();

Deno.test("python vectors: canonical JSON ascii and utf8 forms match json.dumps", () => {
  assert.ok(P.canonical_json.length >= 10);
  for (const c of P.canonical_json) {
    assert.equal(canonicalJson(c.payload, "ascii"), c.canonical_ascii);
    assert.equal(canonicalJson(c.payload, "utf8"), c.canonical_utf8);
  }
});

Deno.test("python vectors: public key and sha256 agree", async () => {
  const alice = await fixtureKey("alice");
  assert.equal(alice.publicKey.spki, P.public_spki_b64u);
  for (const c of P.sha256) assert.equal(sha256Hex(b64uDecode(c.data_b64u)!), c.hex);
});

Deno.test("python vectors: transport sigs (salt 32, MAX, raw-UTF-8 form) verify", async () => {
  const alice = await fixtureKey("alice");
  const pub = alice.publicKey;
  let utf8Cases = 0;
  for (const c of P.transport_sig) {
    assert.ok(await verifyPayload(webCrypto, pub, c.payload, c.sig_salt32), "salt 32");
    assert.ok(await verifyPayload(webCrypto, pub, c.payload, c.sig_salt_max), "salt MAX");
    if (c.sig_utf8_salt32 !== undefined) {
      utf8Cases++;
      assert.ok(await verifyPayload(webCrypto, pub, c.payload, c.sig_utf8_salt32), "utf8 form");
    }
  }
  assert.ok(utf8Cases >= 3);
});

Deno.test("python vectors: OAEP ciphertexts decrypt (0 to 446 bytes)", async () => {
  const alice = await fixtureKey("alice");
  for (const c of P.oaep) {
    const plain = await webCrypto.decrypt(alice, b64uDecode(c.ciphertext)!);
    assert.deepEqual(plain, b64uDecode(c.plaintext_b64u));
  }
});

Deno.test("python vectors: DM, public-channel and key-share content sigs verify as A", async () => {
  const alice = await fixtureKey("alice");
  const pub = alice.publicKey;
  const dm = { ciphertext: P.dm.ciphertext, from: P.dm.from, to: P.dm.to, ts: P.dm.ts };
  assert.equal(await verifyDm(webCrypto, pub, dm, P.dm.content_sig_A_salt32), "A");
  assert.equal(await verifyDm(webCrypto, pub, dm, P.dm.content_sig_A_salt_max), "A");
  const pc = P.public_channel;
  const content = { ciphertext: pc.ciphertext, from: pc.from, ts: pc.ts };
  assert.equal(await verifyPublic(webCrypto, pub, content, pc.content_sig_A_salt32), "A");
  const ks = P.key_share;
  assert.equal(
    await verifyKeyShare(webCrypto, pub, ks.shares, ks.creator_pub, ks.content_sig_salt32),
    "A",
  );
});

/** Why the Python half cannot run, or `undefined` when it can. */
async function pythonMissing(): Promise<string | undefined> {
  try {
    const probe = await new Deno.Command(PYTHON, {
      args: ["-c", "import cryptography.hazmat.primitives.asymmetric.padding"],
      stdout: "null",
      stderr: "null",
    }).output();
    return probe.success ? undefined : "the python3 module `cryptography` is not installed";
  } catch {
    return `${PYTHON} is not on PATH`;
  }
}

/** The Python to run; `.ci/run` points it at Debian's python3 when that has `cryptography`. */
const PYTHON = Deno.env.get("SOCP_PYTHON") ?? "python3";

const missing = await pythonMissing();
if (missing !== undefined) console.warn(`python interop skipped: ${missing}`);

Deno.test({
  name: `python verifies ours (pyca/cryptography)${missing ? ` [skipped: ${missing}]` : ""}`,
  ignore: missing !== undefined,
  async fn() {
    const alice = await fixtureKey("alice");
    const payloads = [
      ...P.canonical_json.map((c: { payload: unknown }) => c.payload),
      {
        del: "\x7f",
        emoji: "😀",
        nested: { b: [1.5, 1e-7, 2e21], a: {} },
        "k\u{1F600}": 1,
        "k\uff5e": 2,
      },
    ];
    const canonical = payloads.map((payload: unknown) => ({
      payload,
      canonical_ascii: canonicalJson(payload, "ascii"),
      canonical_utf8: canonicalJson(payload, "utf8"),
    }));
    const signed = [payloads[1], payloads[3], payloads.at(-1)];
    const transport_sig = await Promise.all(
      signed.map(async (payload) => ({
        payload,
        sig: await signPayload(webCrypto, alice, payload),
      })),
    );
    const plaintexts = [
      new Uint8Array(0),
      new TextEncoder().encode("héllo 😀"),
      new Uint8Array(446).fill(7),
    ];
    const oaep = await Promise.all(plaintexts.map(async (p) => ({
      plaintext_b64u: b64uEncode(p),
      ciphertext: b64uEncode(await webCrypto.encrypt(alice.publicKey, p)),
    })));
    const dm = { ciphertext: oaep[1]!.ciphertext, from: "u-alice", to: "u-bob", ts: 1760000400000 };
    const pc = { ciphertext: dm.ciphertext, from: dm.from, ts: dm.ts };
    const shares = [{ member: "u-bob", wrapped_public_channel_key: oaep[0]!.ciphertext }];
    const manifest: FileManifest = {
      file_id: "f-1",
      name: "naïve 😀.txt",
      size: 446,
      sha256: sha256Hex(plaintexts[2]!),
      mode: "dm",
      from: "u-alice",
      to: "u-bob",
      ts: 1760000400000,
    };
    const ours = {
      public_spki_b64u: alice.publicKey.spki,
      canonical_json: canonical,
      transport_sig,
      oaep,
      dm: [{ ...dm, content_sig: await signDm(webCrypto, alice, dm) }],
      public_channel: [{ ...pc, content_sig: await signPublic(webCrypto, alice, pc) }],
      key_share: [{
        shares,
        creator_pub: alice.publicKey.spki,
        content_sig: await signKeyShare(webCrypto, alice, shares, alice.publicKey.spki),
      }],
      manifest: [{ manifest, content_sig: await signManifest(webCrypto, alice, manifest) }],
      sha256: plaintexts.map((p) => ({ data_b64u: b64uEncode(p), hex: sha256Hex(p) })),
    };

    const child = new Deno.Command(PYTHON, {
      args: [repoPath("tests/vectors/make_vectors.py"), "verify"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(ours)));
    await writer.close();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    let report: { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> };
    try {
      report = JSON.parse(new TextDecoder().decode(out.stdout));
    } catch {
      assert.fail(`make_vectors.py verify printed no JSON (exit ${out.code}): ${stderr}`);
    }
    const failed = report.checks.filter((c) => !c.ok);
    assert.deepEqual(failed, [], `pyca rejected: ${JSON.stringify(failed, null, 2)}`);
    assert.ok(report.ok && out.success, stderr);
    // 2 per canonical payload + 3 salt modes per signature + the rest: the count guards against
    // a verify script that silently checks nothing.
    assert.ok(report.checks.length >= canonical.length * 2 + transport_sig.length * 3 + 15);
  },
});
