// Goal: the new commands against a scripted session: /accept by id prefix, all, ambiguous or
// unknown ids refused plainly; /trust accepts a changed key by name; /history shows the local
// history by name with a count; /list is everyone known (with us) interactively and the server's
// list as it comes for scripts.
import assert from "node:assert/strict";
import type { ChatSession, ClientEvent } from "../session.ts";
import { command, type Shell } from "./commands.ts";

class ScriptedSession {
  readonly user_id = "id-me";
  accepted: string[] = [];
  trusted: string[] = [];
  waiting = ["ab12-1", "ab34-2", "cd56-3"];
  label(id: string) {
    return ({ "id-me": "me", "id-bob": "bob" } as Record<string, string>)[id] ?? id;
  }
  filesWaiting() {
    return this.waiting.filter((id) => !this.accepted.includes(id));
  }
  accept(id: string) {
    this.accepted.push(id);
    return true;
  }
  resolve(target: string) {
    if (target !== "bob") return Promise.reject(new Error(`Unknown user "${target}"`));
    return Promise.resolve({ user_id: "id-bob", label: "bob", online: false });
  }
  trustNewKey(id: string) {
    this.trusted.push(id);
    return Promise.resolve();
  }
  history(target: string, limit: number) {
    const all = [1, 2, 3].map((i) => ({
      ts: i,
      from: "id-bob",
      to: "id-me",
      text: `m${i}`,
      verified: true,
    }));
    return Promise.resolve(target === "bob" ? all.slice(-limit) : []);
  }
  users() {
    return Promise.resolve([{ user_id: "id-bob", label: "bob", online: false }]);
  }
  list() {
    return Promise.resolve([{ user_id: "id-zed", label: "zed", server_id: "s" }]);
  }
}

function shellOf(session: ScriptedSession, scripted = false) {
  const shown: ClientEvent[] = [];
  const shell: Shell = {
    session: () => session as unknown as ChatSession,
    show: (e) => shown.push(e),
    help: () => {},
    scripted,
  };
  const errors = () => shown.flatMap((e) => e.event === "error" ? [e.detail] : []);
  return { shell, shown, errors };
}

Deno.test("commands: /accept by prefix, all; ambiguous and unknown ids refused", async () => {
  const s = new ScriptedSession();
  const { shell, errors } = shellOf(s);
  await command(shell, "/accept ab");
  await command(shell, "/accept zz");
  await command(shell, "/accept cd5");
  assert.deepEqual(s.accepted, ["cd56-3"]);
  await command(shell, "/accept all");
  assert.deepEqual(s.accepted, ["cd56-3", "ab12-1", "ab34-2"]);
  await command(shell, "/accept all");
  await command(shell, "/accept");
  assert.deepEqual(errors(), [
    '"ab" names 2 waiting files: type more of the id',
    'No waiting file "zz"',
    "No file is waiting",
    "Usage: /accept <file id>, or /accept all",
  ]);
});

Deno.test("commands: /trust by name, /history with a count, /list for people and scripts", async () => {
  const s = new ScriptedSession();
  const { shell, shown, errors } = shellOf(s);
  await command(shell, "/trust bob");
  assert.deepEqual(s.trusted, ["id-bob"]);
  await command(shell, "/history bob 2");
  await command(shell, "/history bob zero");
  await command(shell, "/list");
  assert.deepEqual(shown.filter((e) => e.event !== "error"), [
    { event: "trusted", user_id: "id-bob", label: "bob" },
    {
      event: "history",
      with: "bob",
      entries: [
        { ts: 2, from: "id-bob", to: "id-me", text: "m2", verified: true },
        { ts: 3, from: "id-bob", to: "id-me", text: "m3", verified: true },
      ],
    },
    {
      event: "list",
      users: [
        { user_id: "id-me", label: "me", online: true },
        { user_id: "id-bob", label: "bob", online: false },
      ],
    },
  ]);
  assert.deepEqual(errors(), ["Usage: /history <user>|public [count]"]);
  const scripts = shellOf(s, true);
  await command(scripts.shell, "/list");
  assert.deepEqual(scripts.shown, [{
    event: "list",
    users: [{ user_id: "id-zed", label: "zed", server_id: "s" }],
  }]);
});
