/**
 * Always-on assertions for programmer errors (TigerStyle). Operating errors, such as bad input
 * from a peer, are values and never reach these.
 * @module
 */

/** Thrown when an invariant of our own code is broken. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Throws {@linkcode AssertionError} when `condition` is false. */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch that exhaustive `switch` statements can never reach. */
export function assertNever(value: never): never {
  throw new AssertionError(`Unexpected variant: ${JSON.stringify(value)}`);
}
