/**
 * The terminal client's encrypted history (client/core/history.ts) in a file beside the
 * keystore, written atomically with mode 0600; its key is wrapped with the keystore's RSA key.
 * @module
 */
import type { PrivateKey, RsaBackend } from "../crypto/types.ts";
import { writeFileAtomic } from "../lib/write_file.ts";
import { History } from "./core/history.ts";

/** Where the history of the keystore at `keystorePath` lives. */
export function historyPath(keystorePath: string): string {
  return `${keystorePath.replace(/\.json$/, "")}.history.json`;
}

/** Opens (or starts) the history at `path` with the user's key. */
export async function openHistoryFile(
  path: string,
  backend: RsaBackend,
  key: PrivateKey,
): Promise<History> {
  return await History.open({
    load: async () => {
      try {
        return await Deno.readTextFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    },
    save: (text) => writeFileAtomic(path, text, { mode: 0o600 }),
  }, {
    wrap: (raw) => backend.encrypt(key.publicKey, raw),
    unwrap: (wrapped) => backend.decrypt(key, wrapped),
  });
}
