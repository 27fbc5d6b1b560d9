/**
 * The checks every client dialect test runs in both directions, their users ↔ ours: list,
 * presence and DMs, for the terminal session and for the browser session.
 * @module
 */
import assert from "node:assert/strict";
import type { ContentSigVariant } from "../independent/ref_client.ts";
import { eventually } from "../harness/processes.ts";
import type { FakeServer, TheirUser } from "./fake_server.ts";
import type { Browser, Terminal } from "./drivers.ts";

/**
 * Terminal: their user is listed and online for us, we are listed for them; a DM each way
 * (theirs signed with `theirLayout`, ours expected to reach them verified under `ourLayout`);
 * their user leaving is shown.
 */
export async function terminalBothWays(
  server: FakeServer,
  ours: Terminal,
  them: TheirUser,
  theirLayout: ContentSigVariant,
  ourLayout: ContentSigVariant | undefined,
): Promise<void> {
  await ours.waitFor("online", (e) => e.user_id === them.id);
  const listed = await ours.session.list();
  assert.ok(listed.some((u) => u.user_id === them.id && u.label === them.name), "we list them");
  assert.ok(server.listed().includes(ours.user_id), "they list us");

  server.dm(them, ours.user_id, `hello from ${them.name}`, theirLayout);
  const dm = await ours.waitFor("dm", (e) => e.text === `hello from ${them.name}`);
  assert.equal(dm.verified, true, `their layout-${theirLayout} DM verifies`);
  assert.equal(dm.from, them.id);

  await ours.session.tell(them.id, "hello from us");
  await eventually(
    "their user got our DM",
    () => them.inbox.some((m) => m.text === "hello from us"),
  );
  const got = them.inbox.find((m) => m.text === "hello from us")!;
  assert.equal(got.from, ours.user_id);
  assert.equal(got.layout, ourLayout, "their client verifies our DM under the expected layout");

  server.removeTheirUser(them.id);
  await ours.waitFor("offline", (e) => e.user_id === them.id);
}

/** The same for the browser session (contacts stand for the list). */
export async function browserBothWays(
  server: FakeServer,
  ours: Browser,
  them: TheirUser,
  theirLayout: ContentSigVariant,
  ourLayout: ContentSigVariant | undefined,
): Promise<void> {
  await eventually(
    "browser: their user online",
    () => ours.session.contacts.get(them.id)?.online === true,
  );
  assert.equal(ours.session.label(them.id), them.name);
  assert.ok(server.listed().includes(ours.session.user_id), "they list us");

  server.dm(them, ours.session.user_id, `hi browser from ${them.name}`, theirLayout);
  const dm = await ours.waitFor("dm", (e) => e.text === `hi browser from ${them.name}`);
  assert.equal(dm.verified, true, `their layout-${theirLayout} DM verifies in the browser`);

  await ours.session.sendDm(them.id, "hi from the browser");
  await eventually(
    "their user got the browser's DM",
    () => them.inbox.some((m) => m.text === "hi from the browser"),
  );
  const got = them.inbox.find((m) => m.text === "hi from the browser")!;
  assert.equal(got.layout, ourLayout, "their client verifies the browser's DM as expected");

  server.removeTheirUser(them.id);
  await eventually(
    "browser: their user offline",
    () => !ours.session.contacts.get(them.id)?.online,
  );
}
