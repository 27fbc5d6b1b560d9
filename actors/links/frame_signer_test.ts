// Goal: a sealed frame's signature covers the payload as it is when signing starts: a frame
// that may still grow (an ACK batch) is never signed over the text an early lookup saw, and a
// settled frame's text is made once and signed as it is.
import assert from "node:assert/strict";
import { FrameSigner } from "./frame_signer.ts";
import type { PrivateKey, RsaBackend } from "../../crypto/types.ts";
import type { UnsignedFrame } from "../router/router_messages.ts";

/** A backend whose "signature" is the signed text itself, so tests can read what was signed. */
function textSigner(): { backend: RsaBackend; signed: string[] } {
  const signed: string[] = [];
  const backend = {
    sign: (_key: PrivateKey, data: Uint8Array) => {
      signed.push(new TextDecoder().decode(data));
      return Promise.resolve(new Uint8Array(data));
    },
  } as unknown as RsaBackend;
  return { backend, signed };
}

function ack(refs: string[]): UnsignedFrame {
  return { type: "ACK", from: "a", to: "b", ts: 1, payload: { msg_ref: refs[0], msg_refs: refs } };
}

Deno.test("FrameSigner: a frame that may still change is signed as it is when signing starts", async () => {
  const { backend, signed } = textSigner();
  const signer = new FrameSigner(backend, {} as PrivateKey);
  const refs = ["r1"];
  const growing = ack(refs);
  assert.equal(signer.cachedSeal(growing, false), undefined);
  refs.push("r2");
  await signer.seal(growing);
  assert.deepEqual(signed, ['{"msg_ref":"r1","msg_refs":["r1","r2"]}']);
});

Deno.test("FrameSigner: a settled frame is looked up and signed over one text, once", async () => {
  const { backend, signed } = textSigner();
  const signer = new FrameSigner(backend, {} as PrivateKey);
  const frame = ack(["r1"]);
  assert.equal(signer.cachedSeal(frame, true), undefined);
  const wire = JSON.parse(await signer.seal(frame));
  assert.deepEqual(signed, ['{"msg_ref":"r1","msg_refs":["r1"]}']);
  assert.equal(wire.type, "ACK");
  // The same payload in another frame object reuses the signature.
  const again = { ...frame };
  assert.ok(signer.cachedSeal(again, true));
  await signer.seal(again);
  assert.equal(signed.length, 1);
});

Deno.test("FrameSigner: equal payloads share a signature, except those of one-off frames", async () => {
  const { backend, signed } = textSigner();
  const signer = new FrameSigner(backend, {} as PrivateKey);
  const frame = (type: string): UnsignedFrame =>
    ({ type, from: "a", to: "*", ts: 1, payload: { user_id: "u" } }) as UnsignedFrame;
  await signer.seal(frame("USER_ADVERTISE"));
  assert.ok(signer.cachedSeal(frame("USER_ADVERTISE"), true), "a repeat finds its signature");
  assert.equal(signed.length, 1);
  await signer.seal(frame("USER_DELIVER"));
  assert.equal(signer.cachedSeal(frame("USER_DELIVER"), true), undefined, "never looked up");
  await signer.seal(frame("USER_DELIVER"));
  assert.equal(signed.length, 3, "each delivery is signed, none is kept");
});
