// Goal: a peer server that keeps its link alive with WebSocket pings or pongs and sends no
// HEARTBEAT frames keeps the link past two liveness windows (45 s each), with time moved by the
// injected clock; we still send HEARTBEAT every interval. Any inbound traffic counts: a frame, a
// ping, a pong. A peer that sends nothing and answers nothing is still timed out (the control).
// Deno's server sockets answer pings in the runtime and show us neither pings nor pongs, so on
// links the peer dialled, a peer that sends HEARTBEAT is held to it by our clock-driven check and
// one that does not is judged by the runtime (idleTimeout: it pings a quiet peer, and closes the
// socket if no pong comes); the links we dial (npm:ws) show both, and our check counts them.
import assert from "node:assert/strict";
import { ManualClock } from "../../lib/world.ts";
import { HEARTBEAT_INTERVAL_MS, LINK_TIMEOUT_MS } from "../../protocol/limits.ts";
import type { InProcessServer } from "../harness/in_process.ts";
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

/** Two liveness windows and one interval more, in heartbeat ticks. */
const TICKS = Math.ceil((2 * LINK_TIMEOUT_MS) / HEARTBEAT_INTERVAL_MS) + 1;

/** The link our server holds to `server`, if it is linked. */
function linkTo(ours: InProcessServer, server: string) {
  const entry = ours.server.router.state.servers.get(server);
  return entry ? ours.server.links.get(entry.link) : undefined;
}

/** Moves the clock one heartbeat interval at a time, past two windows; `between` runs before each. */
async function pastTwoWindows(clock: ManualClock, between: () => Promise<void>): Promise<void> {
  for (let i = 0; i < TICKS; i++) {
    await between();
    clock.advance(HEARTBEAT_INTERVAL_MS);
  }
}

/** Our server, joined to a listening double that welcomes it and then sends no frame at all. */
async function joinedTo(o: { autoPong: boolean }) {
  const clock = new ManualClock(Date.now());
  const theirs = new DoubleServer(crypto.randomUUID(), KEYS.theirs, () => clock.now());
  const port = await theirs.listen({ autoPong: o.autoPong });
  theirs.onFrame = (f) => {
    if (f.type !== "SERVER_HELLO_JOIN") return;
    theirs.send(theirs.frame("SERVER_WELCOME", String(f.from), {
      assigned_id: String(f.from),
      servers: [],
    }));
  };
  const ours = await startOurs({ clock, bootstrap: { port, key: KEYS.theirs } });
  await eventually("linked to the double", () => linkTo(ours, theirs.id) !== undefined);
  return { clock, theirs, ours };
}

Deno.test("a link we dialled survives two windows on the peer's pongs alone; we still send HEARTBEAT", async () => {
  const { clock, theirs, ours } = await joinedTo({ autoPong: true });
  try {
    await pastTwoWindows(clock, async () => {
      // Our ping of the last tick was answered: the pong is the link's latest traffic.
      const link = linkTo(ours, theirs.id);
      assert.ok(link, "still linked");
      await eventually("the pong arrived", () => link.lastReceivedMs === clock.now(), 5_000);
    });
    assert.ok(linkTo(ours, theirs.id), "linked after two windows without a frame from the peer");
    const beats = theirs.received.filter((f) => f.type === "HEARTBEAT");
    assert.ok(beats.length >= TICKS - 1, `${beats.length} HEARTBEAT frames`);
    assert.ok(beats.every((f) => signedBy(f, ours.server.pubkey)));
    assert.deepEqual(ours.closeReasons().filter((r) => /TIMEOUT/.test(r)), []);
    // And the link still carries a DM.
    const ourUser = await connectUser(ours.url, KEYS.ourUser);
    const carol = crypto.randomUUID();
    theirs.advertise(carol, spkiOf(KEYS.remoteUser));
    await eventually("carol listed", async () => (await ourUser.list()).includes(carol));
    await assertDmAcross(theirs, ourUser, KEYS.ourUser, carol);
    ourUser.terminate();
  } finally {
    await ours.close();
    await theirs.close();
  }
});

Deno.test("a link we dialled survives two windows on the peer's pings alone", async () => {
  const { clock, theirs, ours } = await joinedTo({ autoPong: false });
  try {
    await pastTwoWindows(clock, async () => {
      const link = linkTo(ours, theirs.id);
      assert.ok(link, "still linked");
      theirs.ping();
      await eventually("the ping arrived", () => link.lastReceivedMs === clock.now(), 5_000);
    });
    assert.ok(linkTo(ours, theirs.id), "linked after two windows of pings only");
  } finally {
    await ours.close();
    await theirs.close();
  }
});

Deno.test("control: a peer that sends nothing and answers no ping is timed out by the clock", async () => {
  const { clock, theirs, ours } = await joinedTo({ autoPong: false });
  try {
    await pastTwoWindows(clock, () => new Promise((resolve) => setTimeout(resolve, 20)));
    await eventually(
      "timed out",
      () => ours.closeReasons().some((r) => /TIMEOUT: no frame, ping or pong for \d+ ms/.test(r)),
    );
  } finally {
    await ours.close();
    await theirs.close();
  }
});

Deno.test("a peer that dialled us and only pings keeps its link past two windows, and DMs cross", async () => {
  const clock = new ManualClock(Date.now());
  const ours = await startOurs({ clock });
  const theirs = new DoubleServer(crypto.randomUUID(), KEYS.theirs, () => clock.now());
  const carol = crypto.randomUUID();
  try {
    await theirs.dial(ours.url);
    theirs.send(theirs.frame("SERVER_HELLO_LINK", ours.server.server_id, theirs.address()));
    await eventually("linked", () => linkTo(ours, theirs.id) !== undefined);
    await pastTwoWindows(clock, async () => {
      theirs.ping();
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    assert.ok(linkTo(ours, theirs.id), "linked after two windows of pings only");
    const beats = theirs.received.filter((f) => f.type === "HEARTBEAT");
    assert.ok(beats.length >= TICKS - 1, `${beats.length} HEARTBEAT frames`);
    const ourUser = await connectUser(ours.url, KEYS.ourUser);
    theirs.advertise(carol, spkiOf(KEYS.remoteUser));
    await eventually("carol listed", async () => (await ourUser.list()).includes(carol));
    await assertDmAcross(theirs, ourUser, KEYS.ourUser, carol);
    ourUser.terminate();
  } finally {
    await theirs.close();
    await ours.close();
  }
});

Deno.test("control: a peer that dialled us and sent HEARTBEAT is held to it when it falls silent", async () => {
  const clock = new ManualClock(Date.now());
  const ours = await startOurs({ clock });
  const theirs = new DoubleServer(crypto.randomUUID(), KEYS.theirs, () => clock.now());
  try {
    await theirs.dial(ours.url);
    theirs.send(theirs.frame("SERVER_HELLO_LINK", ours.server.server_id, theirs.address()));
    await eventually("linked", () => linkTo(ours, theirs.id) !== undefined);
    theirs.send(theirs.frame("HEARTBEAT", ours.server.server_id, {}));
    await eventually("heartbeat handled", () => {
      ours.server.store.commit();
      return [...ours.server.store.readJournal()].some((r) => r.reason === "heartbeat");
    });
    await pastTwoWindows(clock, async () => {
      theirs.ping();
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    await eventually(
      "timed out",
      () => ours.closeReasons().some((r) => /TIMEOUT: no frame, ping or pong for \d+ ms/.test(r)),
    );
  } finally {
    await theirs.close();
    await ours.close();
  }
});
