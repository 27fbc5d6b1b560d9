/**
 * What the checks share during one run: the session with the target (connections, keys, what
 * was learned about it), the two probe users, the probe's server link, and the results so far.
 * @module
 */
import type { Result } from "./outcome.ts";
import type { ProbeLink } from "./link.ts";
import type { Frame } from "./peer.ts";
import { ProbeSession } from "./session.ts";
import type { ProbeUser } from "./user.ts";

/** A message sent A → B in `dm-delivered`, and what B received. */
export interface DmExchange {
  sent: Frame & { ts: number; from: string; to: string };
  plaintext: string;
  delivered?: Frame;
}

/** Shared state of one run. */
export class ProbeContext extends ProbeSession {
  readonly results = new Map<string, Result>();
  a?: ProbeUser;
  b?: ProbeUser;
  link?: ProbeLink;
  /** The probe's remote user: advertised over the link, the sender of its SERVER_DELIVERs. */
  remoteUser = "";
  dm?: DmExchange;

  /** The check result of `name`, if it ran. */
  passed(name: string): boolean {
    return this.results.get(name)?.status === "PASS";
  }
}
