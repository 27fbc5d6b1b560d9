/**
 * A contact of the terminal client: a user, its key and its home server.
 * @module
 */
import type { PublicKey } from "../crypto/types.ts";

/** A known user. */
export interface Contact {
  user_id: string;
  key: PublicKey;
  display_name?: string;
  server_id: string;
}
