/**
 * A signing thread that fails on purpose, for `sign_ring_test.ts`: the real one
 * (`sign_worker.ts`), except that the message bringing key 2 throws, uncaught, once the real
 * handler has taken it. The pool then sees the worker fail with jobs still in its ring or queue.
 * Test-only.
 * @module
 */
/// <reference lib="deno.worker" />
import "./sign_worker.ts";
import type { SignRequest } from "./sign_worker.ts";

// The real handler is an arrow function: `this` does not matter.
const serve = self.onmessage as (e: MessageEvent<SignRequest>) => void;
self.onmessage = (e: MessageEvent<SignRequest>) => {
  serve(e);
  if (e.data.type === "key" && e.data.key === 2) throw new Error("signing thread crashed (test)");
};
