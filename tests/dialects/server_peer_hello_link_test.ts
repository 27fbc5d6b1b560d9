// Goal: a server that opens its links with the v1.1 name `PEER_HELLO_LINK` (spec §10) is linked
// as with `SERVER_HELLO_LINK`, under the same rules: signed with the key it presents, that key
// pinned to its id. Over that link, presence and DMs go both ways; an unsigned hello, or one
// claiming the id with another key, is refused.
import assert from "node:assert/strict";
import {
  assertDmAcross,
  connectUser,
  DoubleServer,
  eventually,
  KEYS,
  signedBy,
  spkiOf,
  startOurs,
} from "./_server_double.ts";

Deno.test("PEER_HELLO_LINK links like SERVER_HELLO_LINK: presence and DMs both ways", async () => {
  const ours = await startOurs();
  const theirs = new DoubleServer(crypto.randomUUID(), KEYS.theirs);
  const ourUser = await connectUser(ours.url, KEYS.ourUser);
  const carol = crypto.randomUUID();
  const carolKey = spkiOf(KEYS.remoteUser);
  try {
    await theirs.dial(ours.url);
    theirs.send(theirs.frame("PEER_HELLO_LINK", ours.server.server_id, theirs.address()));
    // Linked: our server greets it with our users, signed (§3.1.3).
    const advert = await theirs.next((f) =>
      f.type === "USER_ADVERTISE" && f.payload?.user_id === ourUser.userId
    );
    assert.ok(signedBy(advert, ours.server.pubkey));
    assert.equal(ours.server.router.state.server_keys.get(theirs.id), theirs.pubkey);
    // Their user shows up for ours.
    theirs.advertise(carol, carolKey);
    await eventually(
      "carol listed by our user",
      async () => (await ourUser.list()).includes(carol),
    );
    await assertDmAcross(theirs, ourUser, KEYS.ourUser, carol);
  } finally {
    ourUser.terminate();
    await theirs.close();
    await ours.close();
  }
});

Deno.test("PEER_HELLO_LINK keeps the rules: unsigned, or another key for a pinned id, is refused", async () => {
  const ours = await startOurs();
  const first = new DoubleServer(crypto.randomUUID(), KEYS.theirs);
  const unsigned = new DoubleServer(crypto.randomUUID(), KEYS.other);
  const impostor = new DoubleServer(first.id, KEYS.other);
  const ourUser = await connectUser(ours.url, KEYS.ourUser);
  try {
    await unsigned.dial(ours.url);
    unsigned.send(
      unsigned.frame("PEER_HELLO_LINK", ours.server.server_id, unsigned.address(), false),
    );
    const e1 = await unsigned.next((f) => f.type === "ERROR");
    assert.equal(e1.payload?.code, "INVALID_SIG");

    await first.dial(ours.url);
    first.send(first.frame("PEER_HELLO_LINK", ours.server.server_id, first.address()));
    await first.next((f) => f.type === "USER_ADVERTISE");
    await impostor.dial(ours.url);
    impostor.send(impostor.frame("PEER_HELLO_LINK", ours.server.server_id, impostor.address()));
    const e2 = await impostor.next((f) => f.type === "ERROR");
    assert.equal(e2.payload?.code, "BAD_KEY");
    assert.match(String(e2.payload?.detail), /pinned to a different key/);
    assert.equal(ours.server.router.state.server_keys.get(first.id), first.pubkey);
    assert.equal(ours.server.router.state.server_keys.has(unsigned.id), false);
  } finally {
    ourUser.terminate();
    for (const d of [first, unsigned, impostor]) await d.close();
    await ours.close();
  }
});
