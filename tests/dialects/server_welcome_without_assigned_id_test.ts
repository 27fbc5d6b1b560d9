// Goal: an introducer that answers our SERVER_HELLO_JOIN with `SERVER_WELCOME {host, port,
// pubkey, role}` (no `assigned_id`) is joined: we keep our own id, the welcome still has to
// verify with the introducer's pinned key, and the join link carries presence and DMs both ways.
// Each join attempt is journaled with its verdict, and `replay` shows it; a welcome that does not
// verify is refused, and the journal says why.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DATABASE_FILE } from "../../store/store.ts";
import { Store } from "../../store/store.ts";
import { runReplay } from "../harness/processes.ts";
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

/** An introducer double that welcomes every joiner without an assigned id, signed by `signer`. */
async function introducer(
  signerKey: string = KEYS.theirs,
): Promise<{ double: DoubleServer; port: number }> {
  const double = new DoubleServer(crypto.randomUUID(), KEYS.theirs);
  const signer = new DoubleServer(double.id, signerKey);
  const port = await double.listen();
  double.onFrame = (f) => {
    if (f.type !== "SERVER_HELLO_JOIN") return;
    const welcome = signer.frame("SERVER_WELCOME", String(f.from), {
      ...double.address(port),
      role: "introducer",
    });
    double.send(welcome);
  };
  return { double, port };
}

function outboundRows(dataDir: string) {
  const store = Store.open(join(dataDir, DATABASE_FILE));
  try {
    return [...store.readJournal()].filter((r) => r.kind === "outbound");
  } finally {
    store.close();
  }
}

Deno.test("a welcome without assigned_id is accepted: we keep our id; presence and DMs both ways", async () => {
  const { double: theirs, port } = await introducer();
  const ours = await startOurs({ bootstrap: { port, key: KEYS.theirs } });
  const carol = crypto.randomUUID();
  const carolKey = spkiOf(KEYS.remoteUser);
  try {
    const hello = await theirs.next((f) => f.type === "SERVER_HELLO_JOIN");
    assert.equal(hello.from, ours.server.server_id, "we kept the id we asked with");
    assert.ok(signedBy(hello, ours.server.pubkey));
    await eventually(
      "linked to the introducer",
      () => ours.server.router.state.servers.has(theirs.id),
    );
    const ourUser = await connectUser(ours.url, KEYS.ourUser);
    try {
      await theirs.next((f) =>
        f.type === "USER_ADVERTISE" && f.payload?.user_id === ourUser.userId
      );
      theirs.advertise(carol, carolKey);
      await eventually("carol listed", async () => (await ourUser.list()).includes(carol));
      await assertDmAcross(theirs, ourUser, KEYS.ourUser, carol);
    } finally {
      ourUser.terminate();
    }
  } finally {
    await ours.server.close();
    await theirs.close();
  }
  try {
    const rows = outboundRows(ours.dataDir);
    assert.equal(rows[0]?.verdict, "accepted");
    assert.match(rows[0]!.reason, /no assigned_id in the welcome: kept our id/);
    const replayed = await runReplay("--data-dir", ours.dataDir);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(
      replayed.stdout,
      new RegExp(`OUTBOUND JOIN → 127\\.0\\.0\\.1:${port}, answered SERVER_WELCOME`),
    );
    assert.match(
      replayed.stdout,
      /accepted: welcomed by .*no assigned_id in the welcome: kept our id/,
    );
  } finally {
    await Deno.remove(ours.dataDir, { recursive: true });
  }
});

Deno.test("a welcome that does not verify with the pinned key is refused, and the journal says why", async () => {
  const { double: theirs, port } = await introducer(KEYS.other);
  const ours = await startOurs({ bootstrap: { port, key: KEYS.theirs } });
  try {
    await theirs.next((f) => f.type === "SERVER_HELLO_JOIN");
    assert.equal(ours.server.router.state.servers.size, 0, "we run alone");
    assert.equal(ours.server.router.state.server_keys.has(theirs.id), false);
  } finally {
    await ours.server.close();
    await theirs.close();
  }
  try {
    const rows = outboundRows(ours.dataDir);
    assert.equal(rows[0]?.verdict, "dropped");
    assert.match(
      rows[0]!.reason,
      /welcome refused: SERVER_WELCOME does not verify with the introducer's pinned key/,
    );
    const replayed = await runReplay("--data-dir", ours.dataDir);
    assert.match(replayed.stdout, /DROPPED: welcome refused: SERVER_WELCOME does not verify/);
  } finally {
    await Deno.remove(ours.dataDir, { recursive: true });
  }
});
