/**
 * Waiting for a client event in a list the client appends to (terminal or browser session).
 * @module
 */
import { eventually } from "./processes.ts";

/** The first event of kind `event` matching `match`, seen before or after the call (≤ 20 s). */
export async function waitForEvent<E extends { event: string }, K extends E["event"]>(
  who: string,
  events: readonly E[],
  event: K,
  match: (e: Extract<E, { event: K }>) => boolean = () => true,
): Promise<Extract<E, { event: K }>> {
  let hit: Extract<E, { event: K }> | undefined;
  await eventually(`${who}: ${event}`, () => {
    hit = events.find((e): e is Extract<E, { event: K }> =>
      e.event === event && match(e as Extract<E, { event: K }>)
    );
    return hit !== undefined;
  }, 20_000);
  return hit!;
}
