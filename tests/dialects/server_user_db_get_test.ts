// Goal: a client that looks keys up with the v1.1 names (`USER_DB_GET {user_id}`) before it
// sends a DM gets `USER_DB_USER {user_id, pubkey}` from our directory, signed by our server, as
// `PUBKEY_REQUEST` would; an unknown user gets `ERROR USER_NOT_FOUND`. With the key it looked up,
// the DM goes through, and our user answers it.
import assert from "node:assert/strict";
import { assertDm, connectUser, KEYS, signedBy, spkiOf, startOurs } from "./_server_double.ts";

Deno.test("USER_DB_GET is answered with USER_DB_USER from the directory, signed", async () => {
  const ours = await startOurs();
  const theirUser = await connectUser(ours.url, KEYS.theirUser);
  const ourUser = await connectUser(ours.url, KEYS.ourUser);
  try {
    const got = await theirUser.request(
      theirUser.frame("USER_DB_GET", ours.server.server_id, { user_id: ourUser.userId }),
      "USER_DB_USER",
    );
    assert.deepEqual(got.payload, { user_id: ourUser.userId, pubkey: spkiOf(KEYS.ourUser) });
    assert.equal(got.to, theirUser.userId);
    assert.ok(signedBy(got, ours.server.pubkey), "USER_DB_USER is signed by our server");
    // The looked-up key is what the DM is encrypted to; our user answers with theirs.
    await assertDm(theirUser, ourUser, String(got.payload?.pubkey));
    await assertDm(ourUser, theirUser, spkiOf(KEYS.theirUser));

    const unknown = crypto.randomUUID();
    const error = await theirUser.request(
      theirUser.frame("USER_DB_GET", ours.server.server_id, { user_id: unknown }),
      "ERROR",
    );
    assert.equal(error.payload?.code, "USER_NOT_FOUND");
    assert.match(String(error.payload?.detail), new RegExp(unknown));
    assert.ok(signedBy(error, ours.server.pubkey));
  } finally {
    theirUser.terminate();
    ourUser.terminate();
    await ours.close();
  }
});
