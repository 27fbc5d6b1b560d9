/**
 * A signing thread for `sign_pool.ts`: OpenSSL with blocking calls, so each signature starts
 * the moment the previous one ends, with the next request already waiting in this worker's
 * message queue. It holds private keys sent by the pool (PKCS#8 DER) and never logs them.
 * @module
 */
/// <reference lib="deno.worker" />
import { createOpenSslBackend } from "./openssl.ts";
import type { PrivateKey, RsaBackend } from "./types.ts";

/** What the pool sends. */
export type SignRequest =
  | { type: "init"; libraryPath?: string }
  | { type: "key"; key: number; der: Uint8Array }
  | { type: "sign"; job: number; key: number; data: Uint8Array };
/** What a worker answers. */
export type SignReply =
  | { type: "ready" }
  | { type: "unavailable"; reason: string }
  | { type: "signed"; job: number; sig: Uint8Array<ArrayBuffer> }
  | { type: "failed"; job: number; error: string };

const post = (reply: SignReply, transfer: Transferable[] = []) => self.postMessage(reply, transfer);
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
    return post(backend === undefined ? { type: "unavailable", reason: why } : { type: "ready" });
  }
  if (backend === undefined) return;
  if (request.type === "key") {
    const imported = backend.importPrivate(request.der);
    imported.catch(() => {});
    keys.set(request.key, imported);
    return;
  }
  try {
    const key = keys.get(request.key);
    if (key === undefined) throw new Error(`no key ${request.key} in this signing thread`);
    const sig = await backend.sign(await key, request.data);
    post({ type: "signed", job: request.job, sig }, [sig.buffer]);
  } catch (err) {
    post({ type: "failed", job: request.job, error: String(err) });
  }
};
