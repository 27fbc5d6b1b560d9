// Goal: a server shuts down promptly and cleanly even when frames still wait for signatures that
// never come: `close()` returns within about LINK_CLOSE_LINGER_MS, the store closes without a late
// write from a link that was still closing, and the user's socket is closed.
import assert from "node:assert/strict";
import { buildConfig } from "../actors/server/config.ts";
import { startServer } from "../actors/server/server.ts";
import { defaultBackend } from "../crypto/mod.ts";
import type { RsaBackend } from "../crypto/types.ts";
import { silentLogger } from "../lib/log.ts";
import { LINK_CLOSE_LINGER_MS } from "../protocol/limits.ts";
import { makeDataDir } from "./harness/processes.ts";
import { fixtureKeyPem, RefClient } from "./independent/ref_client.ts";

Deno.test({
  name: "shutdown is bounded and clean while signatures hang",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const base = defaultBackend();
    let stalled = false;
    // Signs normally until told to stall; then every signature hangs forever.
    const backend: RsaBackend = {
      name: base.name,
      generate: () => base.generate(),
      importPrivate: (data) => base.importPrivate(data),
      exportPrivate: (key) => base.exportPrivate(key),
      importPublic: (text) => base.importPublic(text),
      sign: (key, data) => stalled ? new Promise(() => {}) : base.sign(key, data),
      verify: (key, data, signature) => base.verify(key, data, signature),
      encrypt: (key, plaintext) => base.encrypt(key, plaintext),
      decrypt: (key, ciphertext) => base.decrypt(key, ciphertext),
    };
    const { config } = buildConfig(undefined, {
      data_dir: await makeDataDir("server1"),
      host: "127.0.0.1",
      port: 0,
    });
    const server = await startServer({ config, backend, signThreads: 0, log: silentLogger });
    const user = await RefClient.connect({
      url: `ws://127.0.0.1:${server.port}`,
      privateKeyPem: fixtureKeyPem("alice"),
    });
    stalled = true;
    // Each answer now waits for a signature that never comes.
    for (let i = 0; i < 5; i++) user.send(user.frame("LIST_REQUEST", "server", {}));
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      server.close().then(() => "closed"),
      new Promise<string>((r) => timer = setTimeout(() => r("still closing"), 10_000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
    const took = performance.now() - started;
    assert.ok(took < LINK_CLOSE_LINGER_MS + 1_500, `close() took ${Math.round(took)} ms`);
    // Nothing writes to the closed store later (a late write would throw in a timer and fail
    // this test as an uncaught error), and the user's socket is closed.
    const closed = await Promise.race([
      user.closed,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000)),
    ]);
    assert.ok(closed, "the user's socket was closed");
    await new Promise((r) => setTimeout(r, LINK_CLOSE_LINGER_MS + 200));
  },
});
