// Goal: the input line edits as readline users expect (keys from real terminal byte sequences),
// keeps a history browsable with up/down without losing the line being typed, and its view
// never exceeds the terminal width while keeping the cursor visible.
import assert from "node:assert/strict";
import { parseKeys } from "./keys.ts";
import { LineEditor } from "./line_editor.ts";

/** Feeds raw terminal input; returns the submitted lines. */
function feed(editor: LineEditor, input: string): string[] {
  const lines: string[] = [];
  for (const key of parseKeys(input)) {
    const outcome = editor.apply(key);
    if (outcome.kind === "submit") lines.push(outcome.line);
  }
  return lines;
}

Deno.test("keys: escape sequences, controls, CR LF and text", () => {
  assert.deepEqual(parseKeys("ab\x1b[D\x1bOH\x1b[1;5C\x1b[3~\x7f\x15\x03\x04\r\n"), [
    { key: "text", text: "ab" },
    { key: "left" },
    { key: "home" },
    { key: "right" },
    { key: "delete" },
    { key: "backspace" },
    { key: "kill-line" },
    { key: "interrupt" },
    { key: "eof" },
    { key: "enter" },
  ]);
  assert.deepEqual(parseKeys("\x1b[A\x1b[B\x1b[F\x1b[4~\x01\x05"), [
    { key: "up" },
    { key: "down" },
    { key: "end" },
    { key: "end" },
    { key: "home" },
    { key: "end" },
  ]);
  // Unknown sequences and other control characters are not typed.
  assert.deepEqual(parseKeys("\x1b[15~x\x07y"), [{ key: "text", text: "xy" }]);
});

Deno.test("line editor: insert, move, delete, home/end, kill-line", () => {
  const e = new LineEditor();
  feed(e, "helo\x1b[D");
  feed(e, "l");
  assert.equal(e.text, "hello");
  feed(e, "\x1b[H\x1b[3~J\x1b[F!");
  assert.equal(e.text, "Jello!");
  feed(e, "\x7f\x7f");
  assert.equal(e.text, "Jell");
  feed(e, "\x1b[D\x15");
  assert.equal(e.text, "l", "Ctrl-U kills up to the cursor");
  assert.equal(e.cursor, 0);
  assert.deepEqual(feed(e, "\x1b[Fo\r"), ["lo"]);
  assert.equal(e.text, "");
});

Deno.test("line editor: graphemes move as one", () => {
  const e = new LineEditor();
  feed(e, "e\u0301👍🏽x\x1b[D\x1b[D\x7f");
  assert.equal(e.text, "👍🏽x");
});

Deno.test("line editor: history with up/down keeps the draft", () => {
  const e = new LineEditor();
  assert.deepEqual(feed(e, "one\rtwo\rtwo\r\r"), ["one", "two", "two", ""]);
  feed(e, "dra");
  feed(e, "\x1b[A");
  assert.equal(e.text, "two", "a repeated line is kept once");
  feed(e, "\x1b[A");
  assert.equal(e.text, "one");
  feed(e, "\x1b[A");
  assert.equal(e.text, "one", "stays at the oldest");
  feed(e, "\x1b[B\x1b[B");
  assert.equal(e.text, "dra", "back to the draft");
  feed(e, "\x1b[A\x1b[A!");
  assert.deepEqual(feed(e, "\r"), ["one!"]);
  feed(e, "\x1b[A");
  assert.equal(e.text, "one!");
});

Deno.test("line editor: the history is bounded", () => {
  const e = new LineEditor(3);
  feed(e, "a\rb\rc\rd\r");
  feed(e, "\x1b[A\x1b[A\x1b[A\x1b[A");
  assert.equal(e.text, "b");
});

Deno.test("line editor: Ctrl-C interrupts; Ctrl-D ends only an empty line", () => {
  const e = new LineEditor();
  assert.equal(e.apply({ key: "interrupt" }).kind, "interrupt");
  feed(e, "ab\x1b[H");
  assert.equal(e.apply({ key: "eof" }).kind, "edited");
  assert.equal(e.text, "b", "Ctrl-D in a line deletes under the cursor");
  feed(e, "\x15\x1b[3~");
  assert.equal(e.apply({ key: "eof" }).kind, "eof");
});

Deno.test("line editor: the view fits the width and follows the cursor", () => {
  const e = new LineEditor();
  feed(e, "0123456789abcdef");
  let view = e.view(10);
  assert.equal(view.text, "789abcdef");
  assert.equal(view.cursorColumn, 9);
  feed(e, "\x1b[H");
  view = e.view(10);
  assert.equal(view.text, "012345678");
  assert.equal(view.cursorColumn, 0);
  const wide = new LineEditor();
  feed(wide, "你好你好你好");
  view = wide.view(7);
  assert.equal(view.text, "好你好");
  assert.equal(view.cursorColumn, 6);
});
