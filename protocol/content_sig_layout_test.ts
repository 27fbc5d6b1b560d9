// Goal: how a client picks its content_sig layout: the user's choice wins; otherwise A until a
// DM verifies under another layout; A verifying or a failed check teaches nothing.
import assert from "node:assert/strict";
import {
  describeLayout,
  initialLayout,
  layoutFor,
  learnLayout,
  parseLayoutSetting,
} from "./content_sig_layout.ts";

Deno.test("content_sig layout: parsing --content-sig", () => {
  assert.equal(parseLayoutSetting("auto"), "auto");
  assert.equal(parseLayoutSetting("b"), "B");
  assert.equal(parseLayoutSetting("D"), "D");
  assert.equal(parseLayoutSetting("E"), undefined);
  assert.equal(parseLayoutSetting(""), undefined);
});

Deno.test("content_sig layout: learning", () => {
  assert.equal(learnLayout("auto", "A", "B"), "B");
  assert.equal(learnLayout("auto", "B", "A"), "B", "A verifying teaches nothing");
  assert.equal(learnLayout("auto", "B", undefined), "B", "a failed check teaches nothing");
  assert.equal(learnLayout("auto", "B", "D"), "D");
  assert.equal(learnLayout("A", "A", "B"), "A", "a chosen layout is kept");
  assert.equal(initialLayout("auto", undefined), "A");
  assert.equal(initialLayout("auto", "C"), "C");
  assert.equal(initialLayout("D", "C"), "D");
  assert.equal(layoutFor("auto", "D", "A"), "A", "a peer that signs A gets A");
  assert.equal(layoutFor("auto", "D", undefined), "D", "others get the server's layout");
  assert.equal(layoutFor("B", "D", "A"), "B", "a chosen layout is kept");
  assert.equal(describeLayout("auto", "B"), "B (auto)");
  assert.equal(describeLayout("C", "C"), "C (fixed)");
});
