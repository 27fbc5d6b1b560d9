/**
 * The client half of password login (spec §13 recommended model): registering an SRP verifier
 * and the encrypted keystore with the server, and logging in from another machine with only the
 * user id and the password. The password never leaves this process; it is stretched with PBKDF2
 * (600 000 iterations) before SRP-6a, so even the verifier is slow to attack.
 * @module
 */
import srpClient from "secure-remote-password/client.js";
import WebSocket from "ws";
import { b64uDecode, b64uEncode, parseFrame, USER_FRAME_BYTES_MAX } from "../protocol/mod.ts";
import { KDF_ITERATIONS, type KeystoreFile } from "./keystore.ts";

/** What LOGIN_REGISTER carries. */
export interface LoginRegistration {
  privkey_store: string;
  pake_password: string;
}

async function stretch(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
): Promise<string> {
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    base,
    256,
  );
  return Array.from(new Uint8Array(bits), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds the registration for `keystore` (already encrypted) and its password. */
export async function makeRegistration(
  keystore: KeystoreFile,
  password: string,
): Promise<LoginRegistration> {
  const kdfSalt = crypto.getRandomValues(new Uint8Array(16));
  const srp_salt = srpClient.generateSalt();
  const secret = srpClient.derivePrivateKey(
    srp_salt,
    keystore.user_id,
    await stretch(password, kdfSalt, KDF_ITERATIONS),
  );
  const pake = {
    scheme: "srp6a-sha256-2048+pbkdf2-sha256",
    kdf: { iterations: KDF_ITERATIONS, salt: b64uEncode(kdfSalt) },
    srp_salt,
    verifier: srpClient.deriveVerifier(secret),
  };
  return { privkey_store: JSON.stringify(keystore), pake_password: JSON.stringify(pake) };
}

/** Thrown when a login is refused (wrong password, unknown user, a server that cannot prove itself). */
export class LoginError extends Error {
  override name = "LoginError";
}

/** Logs in to `url` as `user_id` with `password`; returns the stored (still encrypted) keystore. */
export async function passwordLogin(
  url: string,
  user_id: string,
  password: string,
  timeoutMs = 30_000,
): Promise<KeystoreFile> {
  const socket = new WebSocket(url, { maxPayload: USER_FRAME_BYTES_MAX * 4 });
  const frames: Record<string, unknown>[] = [];
  let wake = () => {};
  socket.on("message", (data) => {
    const parsed = parseFrame(data.toString(), USER_FRAME_BYTES_MAX * 4);
    if (parsed.ok) frames.push(parsed.frame as unknown as Record<string, unknown>);
    wake();
  });
  const deadline = Date.now() + timeoutMs;
  const next = async (type: string) => {
    for (;;) {
      const i = frames.findIndex((f) => f.type === type || f.type === "ERROR");
      if (i >= 0) {
        const f = frames.splice(i, 1)[0]!;
        const p = f.payload as Record<string, string>;
        if (f.type === "ERROR") throw new LoginError(`Login refused: ${p.code}: ${p.detail}`);
        return p;
      }
      if (Date.now() > deadline || socket.readyState > WebSocket.OPEN) {
        throw new LoginError(`Login to ${url} timed out or was closed`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", (e) => reject(new LoginError(`Cannot connect to ${url}: ${e.message}`)));
  });
  const send = (type: string, payload: Record<string, unknown>) =>
    socket.send(
      JSON.stringify({ type, from: user_id, to: "server", ts: Date.now(), payload, sig: "" }),
    );
  try {
    const ephemeral = srpClient.generateEphemeral();
    send("LOGIN_START", { user_id, A: ephemeral.public });
    const challenge = await next("LOGIN_CHALLENGE");
    const kdf = challenge.kdf as unknown as { iterations: number; salt: string };
    const kdfSalt = b64uDecode(kdf.salt);
    if (!kdfSalt || !Number.isInteger(kdf.iterations) || kdf.iterations < 100_000) {
      throw new LoginError("Login refused: the server asked for weak password stretching");
    }
    const secret = srpClient.derivePrivateKey(
      challenge.srp_salt!,
      user_id,
      await stretch(password, kdfSalt, kdf.iterations),
    );
    const session = srpClient.deriveSession(
      ephemeral.secret,
      challenge.B!,
      challenge.srp_salt!,
      user_id,
      secret,
    );
    send("LOGIN_PROOF", { user_id, M1: session.proof });
    const ok = await next("LOGIN_OK");
    try {
      // The server proves it holds the verifier too: a fake server cannot hand us a fake key.
      srpClient.verifySession(ephemeral.public, session, ok.M2!);
    } catch {
      throw new LoginError("Login refused: the server could not prove it knows this login");
    }
    return JSON.parse(ok.privkey_store!) as KeystoreFile;
  } finally {
    socket.close(1000, "login done");
  }
}
