/**
 * `main.ts libcrypto`: fetches (or builds), checks and caches the current OpenSSL the server
 * signs with, so `deno task start` and `deno task test` get it without an extra step.
 * @module
 */
import { parseArgs } from "node:util";
import { libCryptoCacheDir } from "./libcrypto_cache.ts";
import { fetchFastLibCrypto } from "./libcrypto_fetch.ts";
import { FAST_LIBCRYPTO } from "./libcrypto_pin.ts";

const LIBCRYPTO_USAGE = `Usage: deno run -A main.ts libcrypto [--no-build]

Puts OpenSSL ${FAST_LIBCRYPTO.version} (about 2.4x faster RSA-4096 signing than OpenSSL 3.0 on CPUs
with AVX-512 IFMA) into ${libCryptoCacheDir()}: Debian's binary where this system's glibc
loads it, else built from Debian's copy of the source (cc, make and perl; a few minutes, once).
Both are pinned by SHA-256 and the library must pass known-answer checks before use. Without
it the server signs with the system libcrypto. "deno task start" and "deno task test" run this
first; it does nothing once the library is there. Always exits 0 unless the usage is wrong.

Options:
  --no-build   Only try Debian's binary
  -h, --help   Show this help
`;

/** `main.ts libcrypto`: fetch, check and cache the fast libcrypto; one line of outcome. */
export async function runLibcrypto(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: { "no-build": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${LIBCRYPTO_USAGE}`);
    return 2;
  }
  if (values.help) return (console.log(LIBCRYPTO_USAGE), 0);
  const say = (line: string) => console.error(`libcrypto: ${line}`);
  const result = await fetchFastLibCrypto({ say, build: !values["no-build"] });
  if (!result.ok) say(`not available (${result.reason}); the server signs with the system one`);
  else if (result.fresh) say(`OpenSSL ${result.record.version} checked and cached: ${result.path}`);
  return 0;
}
