// Goal: a joiner that asks for an id that is not a UUID v4 ("auto") is assigned a fresh UUID v4
// (drawn from the injected randomness), and may keep naming itself "auto" on its link: the
// alias stands for the assigned id and its one pinned key, and shows in `status` and the
// journal. A second joiner asking for "auto" gets its own UUID and no alias, and frames it signs
// as "auto" do not verify. Users get no aliases: a USER_HELLO with another id is refused by rule.
import assert from "node:assert/strict";
import { isUuidV4 } from "../../protocol/ids.ts";
import {
  assertDm,
  assertDmAcross,
  connectUser,
  DoubleServer,
  eventually,
  KEYS,
  signedBy,
  spkiOf,
  startOurs,
} from "./_server_double.ts";
import { fixtureKeyPem, RefClient } from "../independent/ref_client.ts";

Deno.test('a joiner asking for "auto" gets a UUID v4; "auto" stays its alias, bound to its key', async () => {
  const ours = await startOurs();
  const theirs = new DoubleServer("auto", KEYS.theirs);
  const second = new DoubleServer("auto", KEYS.other);
  const ourUser = await connectUser(ours.url, KEYS.ourUser);
  const carol = crypto.randomUUID();
  const carolKey = spkiOf(KEYS.remoteUser);
  try {
    await theirs.dial(ours.url);
    theirs.send(
      theirs.frame("SERVER_HELLO_JOIN", `127.0.0.1:${ours.server.port}`, theirs.address()),
    );
    const welcome = await theirs.next((f) => f.type === "SERVER_WELCOME");
    assert.ok(signedBy(welcome, ours.server.pubkey));
    const assigned = String(welcome.payload?.assigned_id);
    assert.ok(isUuidV4(assigned), `assigned ${assigned}`);
    assert.equal(welcome.to, assigned);
    const state = ours.server.router.state;
    assert.equal(state.server_keys.get(assigned), theirs.pubkey);
    assert.equal(state.server_aliases.get("auto"), assigned);
    assert.equal(state.server_keys.has("auto"), false, "the placeholder is never pinned itself");

    // It keeps calling itself "auto": its frames verify with the key pinned at the join.
    theirs.advertise(carol, carolKey);
    await eventually(
      "carol listed by our user",
      async () => (await ourUser.list()).includes(carol),
    );
    assert.equal(state.user_locations.get(carol), assigned);
    await assertDmAcross(theirs, ourUser, KEYS.ourUser, carol);

    // A second joiner asking for the same placeholder: its own UUID, no alias.
    await second.dial(ours.url);
    second.send(
      second.frame("SERVER_HELLO_JOIN", `127.0.0.1:${ours.server.port}`, second.address()),
    );
    const welcome2 = await second.next((f) => f.type === "SERVER_WELCOME");
    const assigned2 = String(welcome2.payload?.assigned_id);
    assert.ok(isUuidV4(assigned2) && assigned2 !== assigned);
    assert.equal(state.server_aliases.get("auto"), assigned, "the alias stays with the first key");
    const dave = crypto.randomUUID();
    second.advertise(dave, spkiOf("dave"));
    const refused = await second.next((f) => f.type === "ERROR");
    assert.equal(refused.payload?.code, "INVALID_SIG");
    assert.equal(state.user_locations.has(dave), false);

    // Both names show in status and in the journal.
    const status = await (await fetch(`http://127.0.0.1:${ours.server.port}/status`)).json();
    const peer = status.servers.find((p: { server_id: string }) => p.server_id === assigned);
    assert.deepEqual(peer?.aliases, ["auto"]);
    ours.server.store.commit();
    const reasons = [...ours.server.store.readJournal()].map((r) => r.reason);
    assert.ok(
      reasons.some((r) =>
        r.includes(assigned) && /instead of auto: not a UUID v4; auto kept as its alias/.test(r)
      ),
      reasons.join("\n"),
    );
  } finally {
    ourUser.terminate();
    await theirs.close();
    await second.close();
    await ours.close();
  }
});

Deno.test("a USER_HELLO whose id is not a UUID v4 is refused with an ERROR naming the rule", async () => {
  const ours = await startOurs();
  try {
    const placeholder = await RefClient.open({
      url: ours.url,
      userId: "user_1",
      privateKeyPem: fixtureKeyPem(KEYS.theirUser),
      keyForm: "spki_b64u",
    });
    const error = await placeholder.hello().then(
      () => undefined,
      (e) => e.frame,
    );
    assert.equal(error?.payload?.code, "BAD_KEY");
    assert.match(String(error?.payload?.detail), /must be a UUID v4: user ids are UUID v4/);
    assert.equal((await placeholder.closed).code, 1008);
    // A proper id still connects and talks.
    const a = await connectUser(ours.url, KEYS.ourUser);
    const b = await connectUser(ours.url, KEYS.theirUser);
    await assertDm(a, b, spkiOf(KEYS.theirUser));
    a.terminate();
    b.terminate();
  } finally {
    await ours.close();
  }
});
