/**
 * Outgoing WebSockets. They use `npm:ws`, because Deno's built-in WebSocket client stalls about
 * 44 ms on every frame over ~1 KB (PLATFORM.md §4), and every signed SOCP frame is larger.
 * @module
 */
import WebSocket from "ws";
import { SERVER_FRAME_BYTES_MAX } from "../protocol/limits.ts";

export { WebSocket };

/** Opens a WebSocket to `url`, rejecting with a clear error after `timeoutMs`. */
export function openSocket(url: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      handshakeTimeout: timeoutMs,
      maxPayload: SERVER_FRAME_BYTES_MAX * 2,
      perMessageDeflate: false,
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
