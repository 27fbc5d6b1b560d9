/**
 * The client core's socket port over npm:ws, for the terminal client.
 * @module
 */
import WebSocket from "ws";
import { USER_FRAME_BYTES_MAX } from "../protocol/limits.ts";
import type { Dial } from "./core/ports.ts";

/** Opens a WebSocket; an error before it opens is reported as a close. */
export const wsDial: Dial = (url, handlers) => {
  const socket = new WebSocket(url, { maxPayload: USER_FRAME_BYTES_MAX * 4 });
  let closed = false;
  const close = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    handlers.close(code, reason);
  };
  socket.on("open", () => handlers.open());
  socket.on("message", (data) => handlers.message(data.toString()));
  socket.on("error", (e) => close(1006, `cannot connect to ${url}: ${e.message}`));
  socket.on("close", (code, reason) => close(code, reason.toString()));
  return {
    send: (text) => socket.send(text),
    close: (code, reason) => socket.close(code, reason),
    get open() {
      return socket.readyState === WebSocket.OPEN;
    },
  };
};
