import assert from "node:assert/strict";
import { History, HistoryError, type HistoryStore, type KeyWrap } from "./history.ts";

class MemoryStore implements HistoryStore {
  text?: string;
  writes = 0;
  load() {
    return Promise.resolve(this.text);
  }
  save(text: string) {
    this.writes++;
    this.text = text;
    return Promise.resolve();
  }
}

/** An RSA-OAEP key pair standing for the keystore's key (WebCrypto, as in the page). */
async function wrapOf(): Promise<KeyWrap> {
  const oaep = { name: "RSA-OAEP", hash: "SHA-256" };
  const pair = await crypto.subtle.generateKey(
    { ...oaep, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    false,
    ["encrypt", "decrypt"],
  );
  return {
    wrap: async (raw) =>
      new Uint8Array(await crypto.subtle.encrypt(oaep, pair.publicKey, new Uint8Array(raw))),
    unwrap: async (bytes) => {
      try {
        return new Uint8Array(
          await crypto.subtle.decrypt(oaep, pair.privateKey, new Uint8Array(bytes)),
        );
      } catch {
        return undefined;
      }
    },
  };
}

Deno.test({
  name: "history survives a reopen, is encrypted at rest, bounded, and only opens with its key",
  async fn() {
    const [wrap, other] = await Promise.all([wrapOf(), wrapOf()]);
    const store = new MemoryStore();
    const h = await History.open(store, wrap, { perConversation: 3, conversations: 2, text: 1000 });
    for (let i = 0; i < 5; i++) {
      h.add("bob", { ts: i, from: "me", to: "bob", text: `secret ${i}`, verified: true });
    }
    h.add("carol", { ts: 9, from: "carol", to: "me", text: "hi", verified: true });
    await h.flushed();
    assert.ok(store.writes >= 1 && store.writes <= 3, `coalesced writes: ${store.writes}`);
    assert.ok(!store.text!.includes("secret"), "no plaintext at rest");
    const again = await History.open(store, wrap, {
      perConversation: 3,
      conversations: 2,
      text: 1000,
    });
    assert.deepEqual(again.history("bob", 10).map((e) => e.text), [
      "secret 2",
      "secret 3",
      "secret 4",
    ]);
    assert.deepEqual(again.history("bob", 1).map((e) => e.text), ["secret 4"]);
    again.add("dave", { ts: 10, from: "dave", to: "me", text: "x", verified: false });
    assert.deepEqual(again.names(), ["carol", "dave"]);
    again.add("dave", { ts: 11, from: "dave", to: "me", text: "y".repeat(999), verified: true });
    assert.deepEqual(again.names(), ["dave"], "the oldest text goes first past the text bound");
    assert.deepEqual(again.history("dave").map((e) => e.text.length), [1, 999]);
    await assert.rejects(History.open(store, other), HistoryError);
    const tampered = JSON.parse(store.text!);
    tampered.data = tampered.data.slice(0, -4) + "AAAA";
    store.text = JSON.stringify(tampered);
    await assert.rejects(History.open(store, wrap), /does not decrypt/);
  },
});
