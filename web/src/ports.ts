/**
 * The client core's ports in the browser: crypto is WebCrypto (rsa.ts, signing.ts) with the
 * user's own key pair bound in; the socket is the browser's WebSocket.
 * @module
 */
import type { ClientCrypto, Dial } from "../../client/core/ports.ts";
import {
  decrypt,
  encrypt,
  importPublic,
  type KeyPair,
  type PublicKey,
  sha256Hex,
  sign,
} from "./rsa.ts";
import {
  signDm,
  signManifest,
  signPayload,
  signPublic,
  verifyDm,
  verifyKeyShare,
  verifyManifest,
  verifyPayload,
  verifyPublic,
} from "./signing.ts";

/** WebCrypto with `pair` as the user's own key. */
export function webCrypto(pair: KeyPair): ClientCrypto<PublicKey> {
  return {
    spki: pair.publicKey.spki,
    importPublic: (text) => importPublic(text),
    fingerprint: (k) => k.fingerprint,
    encrypt: (k, plain) => encrypt(k, plain),
    decrypt: (ct) => decrypt(pair, ct),
    sign: (bytes) => sign(pair, bytes),
    sha256Hex: (bytes) => sha256Hex(bytes),
    signPayload: (payload) => signPayload(pair, payload),
    verifyPayload: (k, payload, s) => verifyPayload(k, payload, s),
    signDm: (content, layout) => signDm(pair, content, layout),
    verifyDm: (k, content, s) => verifyDm(k, content, s),
    signPublic: (content) => signPublic(pair, content),
    verifyPublic: async (k, content, s) => (await verifyPublic(k, content, s)) !== undefined,
    signManifest: (m) => signManifest(pair, m),
    verifyManifest: (k, m, s) => verifyManifest(k, m, s),
    verifyKeyShare: async (k, shares, creator, s) =>
      (await verifyKeyShare(k, shares, creator, s)) !== undefined,
  };
}

/** The socket port over the browser's WebSocket; a refused URL is reported as a close. */
export const browserDial: Dial = (url, handlers) => {
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch (e) {
    queueMicrotask(() => handlers.close(1006, `cannot connect: ${(e as Error).message}`));
    return { send() {}, close() {}, open: false };
  }
  socket.onopen = () => handlers.open();
  socket.onmessage = (e) => {
    if (typeof e.data === "string") handlers.message(e.data);
  };
  socket.onclose = (e) => handlers.close(e.code, e.reason);
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get open() {
      return socket.readyState === WebSocket.OPEN;
    },
  };
};
