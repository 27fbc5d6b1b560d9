/**
 * A scripted fake SOCP server for tests: it links to a real server as a peer and sends whatever
 * frames a test builds, signed with any key, forged or replayed. Built on the independent
 * reference client's node:crypto helpers, not on our own code.
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import WebSocket from "ws";
import { fixtureKeyPem, type Frame, signPayload, spkiB64u } from "../independent/ref_client.ts";

/** A peer server under a test's control. */
export class EvilServer {
  readonly received: Frame[] = [];
  readonly key: KeyObject;
  readonly pubkey: string;
  #socket!: WebSocket;

  constructor(readonly id: string, keyName: string) {
    this.key = createPrivateKey(fixtureKeyPem(keyName));
    this.pubkey = spkiB64u(
      createPublicKey(this.key).export({ type: "spki", format: "pem" }).toString(),
    );
  }

  /** Connects to `url` and says SERVER_HELLO_LINK. */
  async link(url: string, to: string): Promise<void> {
    this.#socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      this.#socket.once("open", () => resolve());
      this.#socket.once("error", reject);
    });
    this.#socket.on("message", (data) => this.received.push(JSON.parse(data.toString())));
    this.send(
      this.frame("SERVER_HELLO_LINK", to, { host: "127.0.0.1", port: 1, pubkey: this.pubkey }),
    );
  }

  /** A frame from this server (or `as` another id), signed with `signer` (default: own key). */
  frame(
    type: string,
    to: string,
    payload: Record<string, unknown>,
    o: { as?: string; ts?: number; signer?: KeyObject | null } = {},
  ): Frame {
    const signer = o.signer === undefined ? this.key : o.signer;
    return {
      type,
      from: o.as ?? this.id,
      to,
      ts: o.ts ?? Date.now(),
      payload,
      sig: signer ? signPayload(signer, payload, 32) : "",
    };
  }

  /** Sends a frame or raw text. */
  send(frame: Frame | string): void {
    this.#socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  close(): void {
    this.#socket.terminate();
  }
}
