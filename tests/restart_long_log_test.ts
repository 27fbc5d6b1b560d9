// Goal: a server whose event log is long enough to be read on a thread of its own folds all of
// it at start, says so, and decides from it (a user bound by the log keeps its key).
import assert from "node:assert/strict";
import { join } from "node:path";
import { READ_AHEAD_MIN_EVENTS } from "../protocol/limits.ts";
import type { RouterEvent } from "../store/events.ts";
import { Store } from "../store/store.ts";
import {
  fixtureKeyPem,
  publicKeyText,
  RefClient,
  RefClientError,
} from "./independent/ref_client.ts";
import { makeDataDir, startServerProcess } from "./harness/processes.ts";
import { createPrivateKey } from "node:crypto";

Deno.test({
  name: "restart: a long event log is folded from its reading thread, and its bindings hold",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dataDir = await makeDataDir("server1");
    const count = READ_AHEAD_MIN_EVENTS + 5_000;
    const ids = Array.from({ length: count }, () => crypto.randomUUID());
    const carol = publicKeyText(createPrivateKey(fixtureKeyPem("carol")), "spki_b64u");
    const store = Store.open(join(dataDir, "socp.sqlite"));
    for (let i = 0; i < count; i += 1_000) {
      store.append(
        ids.slice(i, i + 1_000).map((user_id, j): RouterEvent => ({
          type: "UserRegistered",
          user_id,
          pubkey: carol,
          meta: { display_name: `u${i + j}` },
          at_ms: 1_700_000_000_000 + i + j,
        })),
      );
      store.commit();
    }
    store.close();

    const server = await startServerProcess(dataDir);
    try {
      const folded = server.logs.flatMap((l) =>
        l.includes('"event log folded"') ? [JSON.parse(l)] : []
      );
      assert.equal(folded.length, 1);
      assert.equal(folded[0].events, count);
      // The last user the log bound, arriving with another key, is refused.
      await assert.rejects(
        RefClient.connect({
          url: server.url,
          userId: ids.at(-1)!,
          privateKeyPem: fixtureKeyPem("eve"),
        }),
        (e: unknown) => e instanceof RefClientError && e.code === "BAD_KEY",
      );
    } finally {
      await server.stop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
