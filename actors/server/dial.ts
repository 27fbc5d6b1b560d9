/**
 * Outgoing WebSockets. They use `npm:ws`, because Deno's built-in WebSocket client stalls about
 * 44 ms on every frame over ~1 KB (PLATFORM.md §4), and every signed SOCP frame is larger.
 * @module
 */
import WebSocket from "ws";
import { SERVER_FRAME_BYTES_MAX } from "../../protocol/limits.ts";

export { WebSocket };

/** How outgoing server links use TLS. */
export interface DialOptions {
  /** `host:port` of peers to dial with wss:// (bootstrap or pinned entries with `tls: true`). */
  tlsPeers?: ReadonlySet<string>;
  /** Extra CA certificates (PEM) to trust for wss://, besides the system's roots. */
  ca?: string;
}

/** The URL of a peer: wss:// when its configuration entry says `tls: true`, else ws://. */
export function peerUrl(host: string, port: number, options: DialOptions = {}): string {
  const scheme = options.tlsPeers?.has(`${host}:${port}`) ? "wss" : "ws";
  // An IPv6 literal needs brackets in a URL.
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Opens a WebSocket to `url`, rejecting with a clear error after `timeoutMs`. */
export function openSocket(
  url: string,
  timeoutMs: number,
  options: DialOptions = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      handshakeTimeout: timeoutMs,
      maxPayload: SERVER_FRAME_BYTES_MAX * 2,
      perMessageDeflate: false,
      // Certificates are always verified; `ca` only adds trust roots (a test's own CA).
      ...(options.ca !== undefined && url.startsWith("wss:") ? { ca: options.ca } : {}),
    });
    socket.once("open", () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (e) => {
      socket.terminate();
      reject(new Error(`Cannot connect to ${url}: ${e.message}`));
    });
  });
}
