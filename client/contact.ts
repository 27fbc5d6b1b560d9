/**
 * A contact of the terminal client: a user, its key, its home server, and whether it is online.
 * @module
 */
import type { PublicKey } from "../crypto/types.ts";
import type { Contact as CoreContact } from "./core/session.ts";

/** A known user. */
export type Contact = CoreContact<PublicKey>;
