#!/usr/bin/env python3
"""Independent SOCP crypto vectors made with Python's json and pyca/cryptography.

Most SOCP peers are Python programs that canonicalise with
json.dumps(sort_keys=True, separators=(",", ":")) and sign with pyca/cryptography, so this
script is the reference our TypeScript code is checked against, in both directions:

  python3 tests/vectors/make_vectors.py generate   # rewrite tests/vectors/python_vectors.json
  python3 tests/vectors/make_vectors.py verify     # read our outputs (JSON) on stdin, check them

Both modes use the fixture key tests/fixtures/keys/alice.pem (test-only). `verify` prints one
JSON object {"ok": bool, "cryptography": version, "checks": [{"name", "ok", "detail"}]} and exits
0 when every check passed, 1 otherwise.
"""

import base64
import hashlib
import json
import os
import sys
from pathlib import Path

import cryptography
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ROOT = Path(__file__).resolve().parents[2]
KEY_PATH = ROOT / "tests" / "fixtures" / "keys" / "alice.pem"
OUT_PATH = Path(__file__).resolve().parent / "python_vectors.json"

SHA256 = hashes.SHA256()
MGF = padding.MGF1(SHA256)
OAEP = padding.OAEP(mgf=MGF, algorithm=SHA256, label=None)

# Payloads whose canonical forms are easy to get wrong. Integral floats below 1e21 (100.0, 1e16)
# are left out on purpose: JSON.parse turns them into integers, so a JS peer writes them as ints
# (as JSON.stringify does) and cannot reproduce Python's "100.0" or "1e+16". From 1e21 up both
# sides use exponent notation.
TRICKY_PAYLOADS = [
    {},
    {"empty_obj": {}, "empty_arr": [], "empty_str": ""},
    {"b": 1, "a": {"d": [3, 2, 1], "c": {"z": None, "y": True, "x": False}}},
    # Python sorts keys by code point; UTF-16 order would put U+1F600 (a surrogate pair) first.
    {"emoji": "chat \U0001F600", "k\U0001F600": 1, "k\uff5e": 2, "k": 0, "a": 3},
    {"accents": "Zo\u00eb \u00e9t\u00e9", "cjk": "\u4f60\u597d", "rtl": "\u05e9\u05dc\u05d5\u05dd"},
    {"quote": "\"", "backslash": "\\", "slash": "/", "ctrl": "\x00\x01\x08\x0c\x1f",
     "ws": "\t\n\r", "del": "\x7f", "ls": "\u2028\u2029", "bom": "\ufeff"},
    {"ints": [0, -5, 1, 9007199254740991, -9007199254740991, 1760000400000, 10**16, 15 * 10**15]},
    {"floats": [1.5, 0.1, -2.5, 0.30000000000000004, 123456789.125, 1e-05, 0.0001, 1.5e-07,
                1e21, 1e22, -2.5e-08, 5e-324, 1.7976931348623157e308]},
    {"nested": [[[]], [{}], [{"k": [{"b": 2, "a": 1}]}]], "unicode_key_\u00e9": "v"},
    {"user_id": "3c5e7a9b-1d2f-4a6c-8e0b-2d4f6a8c0e1a",
     "meta": {"display_name": "Zo\u00eb \U0001F600", "pubkey": "K"}},
]

DM = {
    "from": "8a6c4e2f-0b1d-4f3a-9c5e-7a9b1d3f5e7c",
    "to": "3c5e7a9b-1d2f-4a6c-8e0b-2d4f6a8c0e1a",
    "ts": 1760000400000,
}


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    text = text.replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value, ascii_form: bool = True) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ascii_form)


def pss(salt):
    return padding.PSS(mgf=MGF, salt_length=salt)


def load_private():
    return serialization.load_pem_private_key(KEY_PATH.read_bytes(), password=None)


def spki_b64u(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64u(der)


def dm_preimage_a(ciphertext: str, sender: str, recipient, ts: int) -> bytes:
    return (ciphertext + sender + (recipient or "") + str(ts)).encode("utf-8")


def generate() -> None:
    key = load_private()
    pub = key.public_key()

    def sign(data: bytes, salt) -> str:
        return b64u(key.sign(data, pss(salt), SHA256))

    canonical_cases = [
        {"payload": p, "canonical_ascii": canonical(p, True), "canonical_utf8": canonical(p, False)}
        for p in TRICKY_PAYLOADS
    ]
    signatures = []
    for p in TRICKY_PAYLOADS:
        data = canonical(p).encode("utf-8")
        case = {
            "payload": p,
            "sig_salt32": sign(data, 32),
            "sig_salt_max": sign(data, padding.PSS.MAX_LENGTH),
        }
        utf8 = canonical(p, False).encode("utf-8")
        if utf8 != data:
            # What an ensure_ascii=False / orjson peer sends: our verifier must fall back to it.
            case["sig_utf8_salt32"] = sign(utf8, 32)
        signatures.append(case)

    plaintexts = [
        b"",
        b"hello",
        "h\u00e9llo \U0001F600 from python".encode("utf-8"),
        bytes(range(256)) + bytes(range(190)),  # 446 bytes: the OAEP maximum for RSA-4096
    ]
    oaep = [{"plaintext_b64u": b64u(p), "ciphertext": b64u(pub.encrypt(p, OAEP))}
            for p in plaintexts]

    dm_ct = oaep[2]["ciphertext"]
    dm_a = dm_preimage_a(dm_ct, DM["from"], DM["to"], DM["ts"])
    pub_a = dm_preimage_a(dm_ct, DM["from"], None, DM["ts"])
    shares = [{"member": DM["to"], "wrapped_public_channel_key": oaep[1]["ciphertext"]}]
    creator_pub = spki_b64u(pub)
    share_a = (canonical(shares) + creator_pub).encode("utf-8")

    out = {
        "about": ("Independent SOCP vectors from tests/vectors/make_vectors.py (Python json + "
                  "pyca/cryptography) with the test-only fixture key tests/fixtures/keys/alice.pem. "
                  "Regenerate with: python3 tests/vectors/make_vectors.py generate"),
        "generator": {"python": sys.version.split()[0], "cryptography": cryptography.__version__},
        "public_spki_b64u": creator_pub,
        "canonical_json": canonical_cases,
        "transport_sig": signatures,
        "oaep": oaep,
        "dm": {**DM, "ciphertext": dm_ct,
               "content_sig_A_salt32": sign(dm_a, 32),
               "content_sig_A_salt_max": sign(dm_a, padding.PSS.MAX_LENGTH)},
        "public_channel": {"from": DM["from"], "ts": DM["ts"], "ciphertext": dm_ct,
                           "content_sig_A_salt32": sign(pub_a, 32)},
        "key_share": {"shares": shares, "creator_pub": creator_pub,
                      "content_sig_salt32": sign(share_a, 32)},
        "sha256": [{"data_b64u": b64u(p), "hex": hashlib.sha256(p).hexdigest()}
                   for p in plaintexts],
    }
    tmp = OUT_PATH.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    os.replace(tmp, OUT_PATH)
    print(f"wrote {OUT_PATH.relative_to(ROOT)}")


def verify() -> int:
    """Checks outputs of our TypeScript code (JSON on stdin) with pyca/cryptography."""
    data = json.load(sys.stdin)
    key = load_private()
    pub = key.public_key()
    checks = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    def pss_verify(sig: str, message: bytes, salt) -> bool:
        try:
            pub.verify(b64u_decode(sig), message, pss(salt), SHA256)
            return True
        except Exception:  # noqa: BLE001 - any failure is a failed check
            return False

    def sig_checks(name: str, sig: str, message: bytes) -> None:
        # Explicit 32 is what digest-length peers (Node, WebCrypto, PyCryptodome) enforce; AUTO
        # and MAX_LENGTH (auto on verify since cryptography 42) are what most Python peers use.
        check(f"{name} PSS salt 32", pss_verify(sig, message, 32))
        check(f"{name} PSS.AUTO", pss_verify(sig, message, padding.PSS.AUTO))
        check(f"{name} PSS.MAX_LENGTH", pss_verify(sig, message, padding.PSS.MAX_LENGTH))

    ours = data.get("public_spki_b64u")
    check("public key SPKI matches", ours == spki_b64u(pub), f"{str(ours)[:16]}...")

    for i, case in enumerate(data.get("canonical_json", [])):
        p = case["payload"]
        check(f"canonical[{i}] ascii", case["canonical_ascii"] == canonical(p, True),
              canonical(p, True)[:200])
        check(f"canonical[{i}] utf8", case["canonical_utf8"] == canonical(p, False),
              canonical(p, False)[:200])

    for i, case in enumerate(data.get("transport_sig", [])):
        sig_checks(f"transport_sig[{i}]", case["sig"], canonical(case["payload"]).encode("utf-8"))

    for i, case in enumerate(data.get("oaep", [])):
        try:
            plain = key.decrypt(b64u_decode(case["ciphertext"]), OAEP)
            check(f"oaep[{i}] decrypts", plain == b64u_decode(case["plaintext_b64u"]),
                  f"{len(plain)} bytes")
        except Exception as exc:  # noqa: BLE001
            check(f"oaep[{i}] decrypts", False, repr(exc))

    for i, case in enumerate(data.get("dm", [])):
        message = dm_preimage_a(case["ciphertext"], case["from"], case["to"], case["ts"])
        sig_checks(f"dm[{i}] content_sig A", case["content_sig"], message)

    for i, case in enumerate(data.get("public_channel", [])):
        message = dm_preimage_a(case["ciphertext"], case["from"], None, case["ts"])
        sig_checks(f"public_channel[{i}] content_sig A", case["content_sig"], message)

    for i, case in enumerate(data.get("key_share", [])):
        message = (canonical(case["shares"]) + case["creator_pub"]).encode("utf-8")
        sig_checks(f"key_share[{i}] content_sig", case["content_sig"], message)

    for i, case in enumerate(data.get("manifest", [])):
        m = case["manifest"]
        fields = {k: m[k] for k in ("file_id", "name", "size", "sha256", "mode", "from", "to", "ts")}
        sig_checks(f"manifest[{i}] content_sig", case["content_sig"],
                   canonical(fields).encode("utf-8"))

    for i, case in enumerate(data.get("sha256", [])):
        want = hashlib.sha256(b64u_decode(case["data_b64u"])).hexdigest()
        check(f"sha256[{i}]", case["hex"] == want, want)

    ok = len(checks) > 0 and all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "cryptography": cryptography.__version__, "checks": checks}))
    return 0 if ok else 1


def main(argv) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "generate":
        generate()
        return 0
    if mode == "verify":
        return verify()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
