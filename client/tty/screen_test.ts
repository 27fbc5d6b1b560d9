// Goal: the screen keeps the input line intact while lines arrive: each printed line clears the
// status rows and the input first, then draws them again with what was being typed; an update
// rewrites the last line in place only while it is still the last; the terminal leaves raw mode
// however the input ends; the hidden prompt echoes nothing and aborts on Ctrl-C.
import assert from "node:assert/strict";
import { FakeTerminal } from "./_fake_terminal.ts";
import { fit, Screen } from "./screen.ts";
import {
  askNewPassphrase,
  newPassphraseProblem,
  PassphraseAborted,
  PassphraseRefused,
  readHidden,
} from "./passphrase.ts";
import { PASSPHRASE_LENGTH_MIN } from "../../protocol/limits.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("screen: a line arriving while typing is drawn above the input, which is redrawn", async () => {
  const term = new FakeTerminal(40);
  const screen = new Screen(term, "> ");
  const lines: string[] = [];
  const ended = screen.run((line) => lines.push(line));
  assert.equal(term.raw, true);
  term.type("hel");
  await tick();
  term.output = "";
  screen.print("14:02 bob: hi");
  // Clear the input row, the line, then the prompt with the typed text, cursor after it.
  assert.equal(term.output, "\r\x1b[K14:02 bob: hi\r\n> hel\r\x1b[5C");
  term.type("lo\r");
  await tick();
  assert.deepEqual(lines, ["hello"]);
  assert.ok(term.output.endsWith("> hello\r\n> \r\x1b[2C"), "the entered line stays, as typed");
  term.type("\x03");
  assert.equal(await ended, "interrupt");
  assert.deepEqual(term.rawChanges, [true, false]);
});

Deno.test("screen: status rows sit between the transcript and the input", async () => {
  const term = new FakeTerminal(30);
  const screen = new Screen(term);
  const ended = screen.run(() => {});
  screen.status("progress", "↓ a.bin [####....] 50%");
  term.output = "";
  screen.print("line");
  // Up over the one status row, clearing it, then the line, the row and the prompt again.
  assert.equal(
    term.output,
    "\r\x1b[K\x1b[1A\r\x1b[Kline\r\n↓ a.bin [####....] 50%\r\n> \r\x1b[2C",
  );
  screen.status("progress", undefined);
  term.output = "";
  screen.print("next");
  assert.equal(term.output, "\r\x1b[Knext\r\n> \r\x1b[2C", "the removed row is gone");
  term.type(undefined);
  assert.equal(await ended, "eof");
  assert.equal(term.raw, false);
});

Deno.test("screen: update rewrites the last line in place, else prints anew", async () => {
  const term = new FakeTerminal(40);
  const screen = new Screen(term);
  const ended = screen.run(() => {});
  screen.print("me → bob: hi  … sent", "m1");
  term.output = "";
  screen.update("m1", "me → bob: hi  ✓ delivered");
  assert.equal(term.output, "\r\x1b[K\x1b[1A\r\x1b[Kme → bob: hi  ✓ delivered\r\n> \r\x1b[2C");
  screen.print("bob: hello");
  term.output = "";
  screen.update("m1", "me → bob: hi  ✓✓ read");
  assert.equal(
    term.output,
    "\r\x1b[Kme → bob: hi  ✓✓ read\r\n> \r\x1b[2C",
    "not the last: new line",
  );
  term.type("\x04");
  assert.equal(await ended, "eof");
});

Deno.test("screen: fit cuts to the width with an ellipsis", () => {
  assert.equal(fit("abcdef", 6), "abcdef");
  assert.equal(fit("abcdefg", 6), "abcde…");
  assert.equal(fit("你好你好", 5), "你好…");
});

Deno.test("passphrase: typed unseen, edited, entered; raw mode restored", async () => {
  const term = new FakeTerminal();
  const read = readHidden(term, "Passphrase: ");
  term.type("secret");
  term.type("X\x7f wor");
  term.type("d\r");
  assert.equal(await read, "secret word");
  assert.equal(term.output, "Passphrase: \r\n", "nothing typed is shown");
  assert.deepEqual(term.rawChanges, [true, false]);
});

Deno.test("passphrase: Ctrl-C aborts and restores the terminal", async () => {
  const term = new FakeTerminal();
  const read = readHidden(term, "Passphrase: ");
  term.type("sec\x03");
  await assert.rejects(read, PassphraseAborted);
  assert.equal(term.raw, false);
});

Deno.test("passphrase: a new one needs the minimum length and the same repeat", async () => {
  assert.equal(PASSPHRASE_LENGTH_MIN, 8);
  assert.match(newPassphraseProblem("1234567")!, /at least 8 characters/);
  assert.equal(newPassphraseProblem("12345678"), undefined);
  const term = new FakeTerminal();
  const asked = askNewPassphrase(term);
  term.type("short\r");
  term.type("long enough\r");
  term.type("long enougH\r");
  term.type("long enough\r");
  term.type("long enough\r");
  assert.equal(await asked, "long enough");
  assert.match(term.output, /at least 8 characters/);
  assert.match(term.output, /The two passphrases differ/);
  assert.doesNotMatch(term.output, /short|long enough/);
  const refused = new FakeTerminal();
  const never = askNewPassphrase(refused, 2);
  refused.type("a\rb\r");
  await assert.rejects(never, PassphraseRefused);
});
