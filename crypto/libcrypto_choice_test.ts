// Goal: the server signs with the current OpenSSL from the user's cache when it is there and
// checked, and otherwise with the system libcrypto, saying why in one log line: an empty cache,
// a library whose checksum changed, a library that does not load. /status, /metrics and
// `main.ts status` name the library. (The contract suite runs on both libraries in
// backend_contract_test.ts.)
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeDataDir, ROOT, startServerProcess } from "../tests/harness/processes.ts";
import {
  chooseLibCrypto,
  LIBRARY_FILE,
  readCached,
  sha256File,
  VERIFIED_FILE,
} from "./libcrypto_cache.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";
import { knownAnswerFailure } from "./libcrypto_selfcheck.ts";
import { fastLibCrypto } from "./_test_support.ts";
import { openBackend } from "./mod.ts";

const fast = fastLibCrypto();

/** A cache folder holding `bytes` as the library, recorded (as checked) with `sha256`. */
async function fakeCache(bytes: Uint8Array, sha256?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "socp-libcrypto-" });
  await Deno.writeFile(join(dir, LIBRARY_FILE), bytes);
  const record = {
    version: FAST_LIBCRYPTO.version,
    sha256: sha256 ?? sha256File(join(dir, LIBRARY_FILE)),
    origin: "test",
    checked_at: new Date().toISOString(),
  };
  await Deno.writeTextFile(join(dir, VERIFIED_FILE), JSON.stringify(record));
  return dir;
}

Deno.test({
  name: "libcrypto: the checked current OpenSSL in the cache is chosen and passes the checks",
  ignore: fast.path === undefined,
  async fn() {
    const choice = chooseLibCrypto({ cacheDir: fast.dir });
    assert.equal(choice.path, join(fast.dir, LIBRARY_FILE));
    assert.equal(choice.fallback, undefined);
    const opened = openBackend(choice);
    assert.equal(opened.fallback, undefined);
    assert.equal(opened.backend.library?.version, FAST_LIBCRYPTO.version);
    assert.equal(await knownAnswerFailure(opened.backend), undefined);
  },
});

Deno.test("libcrypto: without a checked library, the system one, with the reason", async () => {
  const system = openBackend(chooseLibCrypto({ override: "system" }));
  assert.equal(system.fallback, undefined);
  assert.notEqual(system.backend.library, undefined, "the system libcrypto loads here");
  const systemVersion = system.backend.library!.version;
  assert.notEqual(systemVersion, FAST_LIBCRYPTO.version, "this system has another OpenSSL");

  const empty = await Deno.makeTempDir({ prefix: "socp-libcrypto-" });
  const garbage = new TextEncoder().encode("not a shared library\n");
  const cases: Array<[string, string, RegExp]> = [
    ["empty cache", empty, /is not in .*fetch it with/],
    ["checksum changed", await fakeCache(garbage, "00".repeat(32)), /checksum mismatch/],
    ["does not load", await fakeCache(garbage), /does not load/],
  ];
  try {
    for (const [label, dir, why] of cases) {
      const opened = openBackend(chooseLibCrypto({ cacheDir: dir }));
      assert.equal(opened.backend.library?.version, systemVersion, label);
      assert.match(opened.fallback ?? "", why, label);
      assert.match(opened.fallback!, /signing with the system libcrypto, OpenSSL 3\./, label);
      assert.ok(!opened.fallback!.includes("\n"), `${label}: one line`);
    }
    assert.equal(typeof readCached(empty), "string");
  } finally {
    for (const [, dir] of cases) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("libcrypto: serve logs its library in one line, and falls back with one warning", async () => {
  const dataDir = await makeDataDir("server1");
  const server = await startServerProcess(dataDir, ["--libcrypto", "/nonexistent/libcrypto.so.3"]);
  try {
    const entries = server.logs.map((l) => JSON.parse(l));
    const warnings = entries.filter((e) => e.level === "warn" && /libcrypto/.test(e.message));
    assert.equal(warnings.length, 1, server.logs.join("\n"));
    assert.match(warnings[0].message, /\/nonexistent\/libcrypto\.so\.3 does not load.*system/);
    const signing = entries.filter((e) => /^signing with /.test(e.message));
    assert.equal(signing.length, 1);
    assert.match(
      signing[0].message,
      /^signing with OpenSSL 3\.\d+\.\d+ \(\S*libcrypto\.so\.3, system\)/,
    );
  } finally {
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name: "libcrypto: /status, /metrics and `main.ts status` show the current OpenSSL",
  ignore: fast.path === undefined,
  async fn() {
    const dataDir = await makeDataDir("server1");
    const server = await startServerProcess(dataDir, ["--libcrypto", fast.path!]);
    try {
      assert.ok(
        server.logs.some((l) => l.includes(`signing with OpenSSL ${FAST_LIBCRYPTO.version}`)),
      );
      const base = `http://127.0.0.1:${server.port}`;
      const status = await (await fetch(`${base}/status`)).json();
      assert.equal(status.crypto.library, "OpenSSL");
      assert.equal(status.crypto.version, FAST_LIBCRYPTO.version);
      assert.equal(status.crypto.path, fast.path);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(
        metrics,
        new RegExp(
          `socp_crypto_library_info\\{library="OpenSSL",version="${FAST_LIBCRYPTO.version}"`,
        ),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "main.ts"), "status", "--port", String(server.port)],
        stdout: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      assert.match(
        new TextDecoder().decode(out.stdout),
        new RegExp(`crypto: OpenSSL ${FAST_LIBCRYPTO.version.replaceAll(".", "\\.")} \\(`),
      );
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
