/**
 * The current libcrypto the server prefers to the system one: OpenSSL 3.5 signs RSA-4096 about
 * 2.4× faster than 3.0 on CPUs with AVX-512 IFMA. Both artefacts come from Debian's archive
 * (trixie-security), pinned by version and SHA-256; `libcrypto_fetch.ts` uses Debian's binary
 * where it loads (glibc ≥ 2.38) and otherwise builds the same release from Debian's copy of the
 * upstream tarball. OpenSSL 3 is under the Apache License 2.0.
 *
 * To update: take the new `libssl3t64` version and the SHA-256 of its amd64 `.deb` (apt-cache
 * show) and of its `openssl_X.orig.tar.gz` (apt-cache showsrc), change the three fields below,
 * and run `deno run -A main.ts libcrypto` then the tests.
 * @module
 */

/** What to fetch, and what it must hash to. */
export const FAST_LIBCRYPTO = {
  version: "3.5.7",
  licence: "Apache-2.0",
  debianBinary: {
    url: "http://deb.debian.org/debian-security/pool/updates/main/o/openssl/" +
      "libssl3t64_3.5.7-1~deb13u3_amd64.deb",
    sha256: "ff16bc048bcd7d1b256094450b79c77947d8e76fe2a24bd99b91021d591fa074",
    member: "usr/lib/x86_64-linux-gnu/libcrypto.so.3",
  },
  source: {
    url: "http://deb.debian.org/debian-security/pool/updates/main/o/openssl/" +
      "openssl_3.5.7.orig.tar.gz",
    sha256: "a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8",
    directory: "openssl-3.5.7",
    /**
     * The full library, as Debian builds it (the system `openssl` command, which the benchmark
     * runs on it, needs every symbol), without what only the build itself would use.
     */
    configure: ["shared", "no-tests", "no-docs", "no-apps"],
  },
} as const;
