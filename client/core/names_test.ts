import assert from "node:assert/strict";
import { NameError, resolveName, sortByLabel } from "./names.ts";

const users = [
  { user_id: "u3", label: "carol", online: false },
  { user_id: "u1", label: "bob", online: false },
  { user_id: "u2", label: "Alice", online: true },
  { user_id: "u4", label: "dan", online: false },
  { user_id: "u5", label: "dan", online: false },
  { user_id: "u6", label: "eve", online: false },
  { user_id: "u7", label: "eve", online: true },
  { user_id: "u8", online: true },
];

Deno.test("a name resolves to an offline user seen before, and online users win a name", () => {
  assert.equal(resolveName("bob", users).user_id, "u1");
  assert.equal(resolveName("u3", users).user_id, "u3");
  assert.equal(resolveName("eve", users).user_id, "u7");
  assert.throws(
    () => resolveName("dan", users),
    (e) => e instanceof NameError && /u4, u5/.test(e.message),
  );
  assert.throws(() => resolveName("zed", users), /Unknown user "zed"/);
});

Deno.test("lists are sorted by label, case-insensitively, then by id", () => {
  assert.deepEqual(sortByLabel(users).map((u) => u.user_id), [
    "u2",
    "u1",
    "u3",
    "u4",
    "u5",
    "u6",
    "u7",
    "u8",
  ]);
});
