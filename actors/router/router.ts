/**
 * The Router actor: owns the state and handles its inputs one batch at a time. Each input runs
 * to completion: decide, append events, evolve. The events and journal rows of the batches of
 * one turn of the event loop are committed in one transaction before any of their effects is
 * performed, so nothing a peer is told can be lost by a crash.
 * @module
 */
import type { Logger } from "../../lib/log.ts";
import { ROUTER_MAILBOX_MAX } from "../../protocol/limits.ts";
import type { RouterEvent } from "../../store/events.ts";
import type { Store } from "../../store/store.ts";
import { readLogAhead } from "../../store/read_ahead.ts";
import { Mailbox } from "../../lib/mailbox.ts";
import { journalRow } from "./journal_codec.ts";
import { decide } from "./router_decide.ts";
import type { RouterConfig } from "./router_config.ts";
import type { Effect, RouterInput, UnsignedFrame } from "./router_messages.ts";
import { checkInvariants, evolve, initialRouterState, type RouterState } from "./router_state.ts";

/** What the Router can do to a link. */
export interface LinkHandle {
  send(frame: UnsignedFrame): void;
  relay(text: string): void;
  close(code: number, reason: string): void;
}

/** Options for {@linkcode Router}. */
export interface RouterOptions {
  store: Store;
  links: Map<string, LinkHandle>;
  log: Logger;
  config: RouterConfig;
  /** Asks the peer manager to link to a pinned server. */
  dial: (server_id: string) => void;
  /** Asks the public-channel actor to prepare a rekey. */
  rekey: () => void;
  /** Tells the peer manager that a server link is up, whichever side dialled. */
  linked?: (server_id: string) => void;
  /** Check invariants after every input (tests and simulation). */
  checkInvariants?: boolean;
}

/** The one actor that owns `local_users`, `user_locations` and the user directory. */
export class Router {
  state: RouterState;
  readonly mailbox: Mailbox<RouterInput>;
  #options: RouterOptions;
  /**
   * Effects decided and not yet performed: they wait for the commit of their inputs, which
   * groups every batch of one turn of the event loop (a batch is often a single frame, and a
   * transaction per frame was a fifth of the JS thread at full load). The state itself moves
   * at once, so links always check frames against every input handed over before.
   */
  #effects: Effect[] = [];
  /** Servers that linked in the batches since the last commit, told to `linked` after it. */
  #linked: string[] = [];
  #committing = false;
  /** Inputs taken by the mailbox, and of those, how many had their effects performed. */
  #posted = 0;
  #answered = 0;
  #decided = 0;
  /** Waiting for the inputs before theirs to be answered (see `answered`). */
  readonly #answerWaiters: { upTo: number; resolve: () => void }[] = [];

  constructor(server_id: string, options: RouterOptions) {
    this.#options = options;
    this.state = initialRouterState(server_id);
    this.mailbox = new Mailbox(ROUTER_MAILBOX_MAX, (batch) => this.#turn(batch), 1000, (e) => {
      // A Router that failed half-way must not go on: the restart refolds the log.
      options.log.error("router crashed", { error: String(e) });
      throw e;
    });
  }

  /**
   * Folds the existing log (read on another thread when it is long); nothing may post meanwhile.
   * Returns how many events it folded.
   */
  async fold(): Promise<number> {
    let folded = 0;
    for await (const events of readLogAhead(this.#options.store)) {
      for (const stored of events) {
        evolve(this.state, stored);
        folded++;
      }
    }
    return folded;
  }

  /** Records this start, once the log is folded. */
  start(event: Extract<RouterEvent, { type: "ServerStarted" }>): void {
    this.#apply([event]);
    this.#options.store.commit();
  }

  /** Posts an input; false when the mailbox is full. */
  post(input: RouterInput): boolean {
    if (!this.mailbox.post(input)) return false;
    this.#posted++;
    return true;
  }

  /**
   * Resolves once every input posted so far is decided, committed and its effects performed:
   * a link closing waits for it, so the answers to the frames it accepted go out first.
   */
  answered(): Promise<void> {
    if (this.#answered >= this.#posted) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#answerWaiters.push({ upTo: this.#posted, resolve });
    return promise;
  }

  #apply(events: RouterEvent[]): void {
    this.#options.store.append(events);
    for (const event of events) evolve(this.state, event);
    if (this.#options.checkInvariants) checkInvariants(this.state);
  }

  #turn(batch: RouterInput[]): void {
    const { store, log } = this.#options;
    const effects = this.#effects;
    const linked = this.#linked;
    for (const input of batch) {
      const event_seq = store.lastSeq;
      const decision = decide(this.state, input, this.#options.config);
      this.#apply(decision.events);
      store.journal(journalRow(input, decision.verdict, event_seq));
      if (!decision.verdict.accepted) {
        log.debug("dropped", { input: input.type, reason: decision.verdict.reason });
      }
      effects.push(...decision.effects);
      for (const e of decision.events) if (e.type === "ServerLinked") linked.push(e.server_id);
    }
    this.#decided += batch.length;
    if (this.#committing) return;
    this.#committing = true;
    setTimeout(() => this.#commit(), 0);
  }

  /** Commits every batch decided since the last commit, then performs their effects. */
  #commit(): void {
    this.#committing = false;
    const decided = this.#decided;
    this.#options.store.commit();
    const effects = this.#effects;
    const linked = this.#linked;
    this.#effects = [];
    this.#linked = [];
    for (const server_id of linked) this.#options.linked?.(server_id);
    for (const effect of effects) this.#perform(effect);
    this.#answered = decided;
    // Waiters come in the order of their inputs, so the answered ones are at the front.
    const waiters = this.#answerWaiters;
    while (waiters.length > 0 && waiters[0]!.upTo <= decided) waiters.shift()!.resolve();
  }

  #perform(effect: Effect): void {
    if (effect.type === "Dial") return this.#options.dial(effect.server_id);
    if (effect.type === "Rekey") return this.#options.rekey();
    const link = this.#options.links.get(effect.link);
    if (!link) return;
    switch (effect.type) {
      case "Send":
        return link.send(effect.frame);
      case "Relay":
        return link.relay(effect.text);
      case "Close":
        return link.close(effect.code, effect.reason);
    }
  }
}
