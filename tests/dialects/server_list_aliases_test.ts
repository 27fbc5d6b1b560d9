// Goal: a user of another dialect asks for the online list with any /list request of spec §3.11
// (USER_LIST_REQ, LIST_REQ, CTRL_LIST, LIST, CLIENT_CMD {"cmd":"/list"}, CLIENT_COMMAND) and gets
// the answer type its dialect expects, with the same sorted `users` and `entries` as our
// LIST_RESPONSE, signed by our server. Both directions: their user and ours see each other
// listed, and DM each other.
import assert from "node:assert/strict";
import { assertDm, connectUser, KEYS, signedBy, spkiOf, startOurs } from "./_server_double.ts";

const DIALECTS: [request: string, payload: Record<string, unknown>, answer: string][] = [
  ["USER_LIST_REQ", {}, "USER_LIST"],
  ["LIST_REQ", {}, "LIST_RES"],
  ["CTRL_LIST", {}, "CTRL_LIST_RESP"],
  ["LIST", {}, "LIST"],
  ["CLIENT_CMD", { cmd: "/list" }, "USER_LIST"],
  ["CLIENT_COMMAND", {}, "LIST"],
  ["CLIENT_COMMAND", { command: "list" }, "LIST"],
];

Deno.test("every /list dialect of §3.11 is answered in its own shape, signed", async () => {
  const ours = await startOurs();
  const theirUser = await connectUser(ours.url, KEYS.theirUser);
  const ourUser = await connectUser(ours.url, KEYS.ourUser);
  try {
    const serverPub = ours.server.pubkey;
    const reference = await theirUser.request(
      theirUser.frame("LIST_REQUEST", ours.server.server_id),
      "LIST_RESPONSE",
    );
    const expected = [ourUser.userId, theirUser.userId].sort();
    assert.deepEqual(reference.payload?.users, expected);
    for (const [request, payload, answer] of DIALECTS) {
      const got = await theirUser.request(
        theirUser.frame(request, ours.server.server_id, payload),
        (f) => f.type === answer && Array.isArray(f.payload?.users),
      );
      assert.equal(got.to, theirUser.userId, `${request}: addressed to the asker`);
      assert.deepEqual(got.payload?.users, expected, `${request}: same sorted users`);
      assert.deepEqual(got.payload?.entries, reference.payload?.entries, `${request}: entries`);
      assert.ok(signedBy(got, serverPub), `${request}: ${answer} is signed by our server`);
    }
    // Their user learns our user's key from the list entries, and the DM goes both ways.
    const entries = reference.payload?.entries as { user_id: string; pubkey: string }[];
    const ourKey = entries.find((e) => e.user_id === ourUser.userId)!.pubkey;
    assert.equal(ourKey, spkiOf(KEYS.ourUser));
    await assertDm(theirUser, ourUser, ourKey);
    await assertDm(ourUser, theirUser, spkiOf(KEYS.theirUser));
    // Ours lists theirs too (the request of our own dialect).
    assert.deepEqual(await ourUser.list(), expected);
  } finally {
    theirUser.terminate();
    ourUser.terminate();
    await ours.close();
  }
});

Deno.test("a generic command frame that is not /list is refused, naming what is supported", async () => {
  const ours = await startOurs();
  const theirUser = await connectUser(ours.url, KEYS.theirUser);
  try {
    const error = await theirUser.request(
      theirUser.frame("CLIENT_CMD", ours.server.server_id, { cmd: "/kick" }),
      "ERROR",
    );
    assert.equal(error.payload?.code, "UNKNOWN_TYPE");
    assert.match(String(error.payload?.detail), /only \/list/);
    assert.ok(signedBy(error, ours.server.pubkey));
  } finally {
    theirUser.terminate();
    await ours.close();
  }
});
