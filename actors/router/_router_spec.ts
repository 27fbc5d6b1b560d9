/**
 * Given/When for Router decision tests (Emmett's DeciderSpecification): given past events, when
 * an input arrives, the decision, with the state folded and the invariants checked after it.
 * Test support only.
 * @module
 */
import type { RouterEvent } from "../../store/events.ts";
import { decide } from "./router_decide.ts";
import { DEFAULT_ROUTER_CONFIG, type RouterConfig } from "./router_config.ts";
import type { Frame } from "../../protocol/mod.ts";
import type { Decision, RouterInput } from "./router_messages.ts";
import { checkInvariants, evolve, fold, type RouterState } from "./router_state.ts";

/** A Router that started as `server_id` (key `server_pub`) and then saw `events`. */
export function given(
  server_id: string,
  events: RouterEvent[],
  options: { server_pub?: string; config?: RouterConfig } = {},
): { state: RouterState; when(input: RouterInput): Decision } {
  const started: RouterEvent = {
    type: "ServerStarted",
    server_id,
    server_pub: options.server_pub ?? "SPUB",
    at_ms: 0,
    build: "test",
  };
  const state = fold(server_id, [started, ...events]);
  return {
    state,
    when(input: RouterInput): Decision {
      const d = decide(state, input, options.config ?? DEFAULT_ROUTER_CONFIG);
      for (const e of d.events) evolve(state, e);
      checkInvariants(state);
      return d;
    },
  };
}

/** A verified `frame` arriving on server link `link` (its raw text: the frame as JSON). */
export function serverFrame(link: string, frame: Frame, at_ms: number, pubkey = ""): RouterInput {
  return { type: "FromServer", link, frame, pubkey, raw: JSON.stringify(frame), at_ms };
}
