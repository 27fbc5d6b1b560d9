/**
 * A signing thread for `sign_pool.ts`: OpenSSL with blocking calls, so each signature starts
 * the moment the previous one ends, with the next requests already waiting in this worker's
 * message queue. It holds private keys sent by the pool (PKCS#8 DER) and never logs them.
 *
 * Requests come in batches and each batch is answered in one message: every message costs both
 * threads a wake-up and a (de)serialisation. The pool keeps a second batch waiting here while
 * this one is signed, so this thread never waits for the pool's answer to its answer.
 * @module
 */
/// <reference lib="deno.worker" />
import { createOpenSslBackend } from "./openssl.ts";
import type { PrivateKey, RsaBackend } from "./types.ts";

/** One signature to make. */
export interface SignJob {
  job: number;
  key: number;
  data: Uint8Array<ArrayBuffer>;
}
/** One signature made, or why not. */
export type SignResult =
  | { job: number; sig: Uint8Array<ArrayBuffer> }
  | { job: number; error: string };

/** What the pool sends. */
export type SignRequest =
  | { type: "init"; libraryPath?: string }
  | { type: "key"; key: number; der: Uint8Array }
  | { type: "sign"; jobs: SignJob[] };
/** What a worker answers. */
export type SignReply =
  | { type: "ready" }
  | { type: "unavailable"; reason: string }
  | { type: "signed"; results: SignResult[] };

/** The same libcrypto as the pool's backend, loaded when the pool says which. */
let backend: RsaBackend | undefined;
const keys = new Map<number, Promise<PrivateKey>>();

self.onmessage = async (e: MessageEvent<SignRequest>) => {
  const request = e.data;
  if (request.type === "init") {
    let why = "";
    backend = createOpenSslBackend({
      libraryPath: request.libraryPath,
      blocking: true,
      privateOpsInFlightMax: 1,
      onUnavailable: (reason) => (why = reason),
    });
    self.postMessage(
      backend === undefined ? { type: "unavailable", reason: why } : { type: "ready" },
    );
    return;
  }
  if (backend === undefined) return;
  if (request.type === "key") {
    const imported = backend.importPrivate(request.der);
    imported.catch(() => {});
    keys.set(request.key, imported);
    return;
  }
  await signAll(backend, request.jobs);
};

async function signAll(backend: RsaBackend, jobs: SignJob[]): Promise<void> {
  const results: SignResult[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const { job, key, data } of jobs) {
    try {
      const imported = keys.get(key);
      if (imported === undefined) throw new Error(`no key ${key} in this signing thread`);
      const sig = await backend.sign(await imported, data);
      results.push({ job, sig });
      transfer.push(sig.buffer);
    } catch (err) {
      results.push({ job, error: String(err) });
    }
  }
  self.postMessage({ type: "signed", results } satisfies SignReply, transfer);
}
