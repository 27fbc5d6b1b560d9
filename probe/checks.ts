/**
 * Every check of the probe, in the order they run. Order matters: users A and B connect first and
 * stay connected as observers; the key checks look at the /list the list check found; the
 * federation checks build on the server link; the unknown-type check goes last among those using
 * A's session (a server may close it); the signature check reads every frame received by then.
 * @module
 */
import type { Check } from "./check.ts";
import { dmContentSig, dmDelivered, dmSenderTs } from "./checks_dm.ts";
import {
  listSorted,
  nameInUse,
  serverSignsFrames,
  unknownType,
  userNotFound,
  usersConnect,
} from "./checks_users.ts";
import {
  malformedKeyGarbage,
  malformedKeyTruncated,
  weakKey1024,
  weakKey2048,
  weakKeyE3,
} from "./checks_keys.ts";
import {
  advertiseUnsigned,
  advertiseWrongKey,
  federationDeliver,
  federationLink,
  replayServerDeliver,
} from "./checks_federation.ts";

/** The checks, in running order. */
export const CHECKS: readonly Check[] = [
  usersConnect,
  listSorted,
  dmDelivered,
  dmSenderTs,
  dmContentSig,
  userNotFound,
  nameInUse,
  weakKey1024,
  weakKey2048,
  weakKeyE3,
  malformedKeyGarbage,
  malformedKeyTruncated,
  federationLink,
  advertiseUnsigned,
  advertiseWrongKey,
  federationDeliver,
  replayServerDeliver,
  unknownType,
  serverSignsFrames,
];
