/**
 * What the client core needs from the world, as small interfaces: the user's crypto (the
 * terminal's backend over FFI, or WebCrypto in the page), a socket, and somewhere to remember
 * keys. The core never imports an implementation of any of them, so the page can bundle it.
 * @module
 */
import type { Layout } from "../../protocol/content_sig_layout.ts";

/** A validated RSA-4096 public key, as the crypto port hands it out. */
export interface PublicKeyLike {
  /** base64url of the DER SubjectPublicKeyInfo. */
  readonly spki: string;
}

/** Result of importing an untrusted public key. */
export type Imported<K> = { ok: true; key: K } | { ok: false; reason: string };

/** What a DM content signature covers. */
export interface DmContent {
  ciphertext: string;
  from: string;
  to: string;
  ts: number;
}

/** What a public-channel content signature covers. */
export type PublicContent = Omit<DmContent, "to">;

/** A file manifest as FILE_START's content_sig covers it. */
export interface ManifestContent {
  file_id: string;
  name: string;
  size: number;
  sha256: string;
  mode: string;
  from: string;
  to: string;
  ts: number;
}

/** One member's wrapped channel key in a PUBLIC_CHANNEL_KEY_SHARE. */
export interface KeyShare {
  member: string;
  wrapped_public_channel_key: string;
}

/**
 * The user's own key and the operations the protocol needs, bound to that key. Verifiers never
 * throw for bad input: they answer `false` or `undefined`.
 */
export interface ClientCrypto<K extends PublicKeyLike> {
  /** Our own public key (base64url DER SPKI). */
  readonly spki: string;
  importPublic(text: string | undefined): Promise<Imported<K>>;
  /** A fingerprint to compare by eye. */
  fingerprint(key: K): string;
  encrypt(key: K, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts with our key; `undefined` if it was not encrypted for us. */
  decrypt(ciphertext: Uint8Array): Promise<Uint8Array | undefined>;
  /** PSS over raw bytes with our key (a login proof). */
  sign(bytes: Uint8Array): Promise<Uint8Array>;
  sha256Hex(bytes: Uint8Array): Promise<string>;
  signPayload(payload: unknown): Promise<string>;
  verifyPayload(key: K, payload: unknown, sig: string): Promise<boolean>;
  signDm(content: DmContent, layout: Layout): Promise<string>;
  verifyDm(key: K, content: DmContent, sig: unknown): Promise<Layout | undefined>;
  signPublic(content: PublicContent): Promise<string>;
  verifyPublic(key: K, content: PublicContent, sig: unknown): Promise<boolean>;
  signManifest(manifest: ManifestContent): Promise<string>;
  verifyManifest(key: K, manifest: ManifestContent, sig: unknown): Promise<boolean>;
  verifyKeyShare(key: K, shares: KeyShare[], creator_pub: string, sig: unknown): Promise<boolean>;
}

/** A WebSocket as the core drives it. */
export interface Socket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  readonly open: boolean;
}

/** What a socket reports to the core. */
export interface SocketHandlers {
  open(): void;
  message(text: string): void;
  close(code: number, reason: string): void;
}

/** Opens a socket to `url`; failures arrive as `close`. */
export type Dial = (url: string, handlers: SocketHandlers) => Socket;

/** A user's key as remembered between runs (trust on first use). */
export interface KnownKey {
  user_id: string;
  /** The key the user accepted (first seen, or confirmed after a change). */
  spki: string;
  fingerprint: string;
  label: string;
  first_seen: number;
  /** A different key the directory now gives for this user, not confirmed yet. */
  changed?: { spki: string; fingerprint: string; at: number };
}

/** The server key seen at a URL ("" when the server never proved one). */
export interface ServerPin {
  url: string;
  server_id: string;
  spki: string;
  fingerprint: string;
  /** The content_sig layout learned for this server while it had this key. */
  content_sig?: Layout;
}

/** Where the core remembers keys and names (a file beside the keystore, or IndexedDB). */
export interface Memory {
  knownKey(user_id: string): Promise<KnownKey | undefined>;
  saveKnownKey(key: KnownKey): Promise<void>;
  serverPin(url: string): Promise<ServerPin | undefined>;
  saveServerPin(pin: ServerPin): Promise<void>;
  /** Every remembered user (for names of users not online now). */
  knownKeys(): Promise<KnownKey[]>;
}
