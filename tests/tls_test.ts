// Goal: a server serves wss:// when given a certificate and key (YAML `tls:` or
// --tls-cert/--tls-key); users chat over it; a peer whose bootstrap entry says `tls: true` is
// dialled with wss://, trusting only the system roots plus an explicitly configured CA file;
// certificates are verified (an unknown CA is refused); plain ws:// stays the default.
import assert from "node:assert/strict";
import { createPrivateKey, type KeyObject } from "node:crypto";
import { join } from "node:path";
import WebSocket from "ws";
import { eventually, startServerProcess } from "./harness/processes.ts";
import { type InProcessServer, startInProcess } from "./harness/in_process.ts";
import {
  buildDirect,
  fixtureKeyPem,
  type Frame,
  newUserId,
  openDelivered,
  publicKeyText,
  RefClient,
} from "./independent/ref_client.ts";

/** A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl CLI. */
async function selfSigned(dir: string, name = "tls"): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`openssl: ${new TextDecoder().decode(out.stderr)}`);
  return { cert, key };
}

/** A minimal user over `npm:ws`, trusting `ca`: hello, send, wait for frames. */
class TlsUser {
  readonly id = newUserId();
  readonly key: KeyObject;
  readonly frames: Frame[] = [];
  #ws!: WebSocket;

  constructor(keyName: string) {
    this.key = createPrivateKey(fixtureKeyPem(keyName));
  }

  get pubkey(): string {
    return publicKeyText(this.key, "spki_b64u");
  }

  async connect(url: string, ca?: string): Promise<void> {
    this.#ws = new WebSocket(url, ca === undefined ? {} : { ca });
    await new Promise((resolve, reject) => {
      this.#ws.once("open", resolve);
      this.#ws.once("error", reject);
    });
    this.#ws.on("message", (data) => this.frames.push(JSON.parse(data.toString())));
    this.send({
      type: "USER_HELLO",
      from: this.id,
      to: "server",
      ts: Date.now(),
      payload: { client: "tls-test", pubkey: this.pubkey },
      sig: "",
    });
    await this.next((f) => f.type === "ACK");
  }

  send(frame: Frame): void {
    this.#ws.send(JSON.stringify(frame));
  }

  async next(match: (f: Frame) => boolean, what = "frame"): Promise<Frame> {
    let hit: Frame | undefined;
    await eventually(what, () => (hit = this.frames.find(match)) !== undefined, 10_000);
    return hit!;
  }

  close(): void {
    this.#ws?.terminate();
  }
}

Deno.test({
  name: "wss:// for users and between servers, verified against a configured CA; ws:// default",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "socp-tls-" });
    const { cert, key } = await selfSigned(dir);
    const ca = await Deno.readTextFile(cert);
    const servers: InProcessServer[] = [];
    const users: TlsUser[] = [];
    try {
      const a = await startInProcess({
        key: "server1",
        yaml: `tls:\n  cert_file: "${cert}"\n  key_file: "${key}"\n`,
      });
      servers.push(a);
      assert.match(a.url, /^wss:\/\/127\.0\.0\.1:\d+$/);

      await t.step("two users chat over wss://", async () => {
        const alice = new TlsUser("alice");
        const bob = new TlsUser("bob");
        users.push(alice, bob);
        await alice.connect(a.url, ca);
        await bob.connect(a.url, ca);
        alice.send(
          buildDirect({
            from: alice.id,
            to: bob.id,
            toPubkey: bob.pubkey,
            plaintext: "hello over TLS",
            privateKey: alice.key,
          }),
        );
        const got = openDelivered(
          bob.key,
          bob.id,
          await bob.next((f) => f.type === "USER_DELIVER"),
        );
        assert.equal(got.plaintext, "hello over TLS");
        assert.equal(got.contentSigOk, true);
      });

      await t.step(
        "certificates are verified: an unknown CA and plain ws:// are refused",
        async () => {
          const stranger = new TlsUser("carol");
          users.push(stranger);
          await assert.rejects(stranger.connect(a.url), /self[- ]signed|certificate|verify/i);
          await assert.rejects(
            RefClient.open({
              url: a.url.replace("wss:", "ws:"),
              privateKeyPem: fixtureKeyPem("carol"),
            }),
          );
        },
      );

      await t.step("a peer with `tls: true` is dialled over wss://, users DM across", async () => {
        const b = await startInProcess({
          key: "server2",
          yaml: [
            "bootstrap_servers:",
            `  - {host: "127.0.0.1", port: ${a.server.port}, pubkey: "${a.server.pubkey}", tls: true}`,
            `tls:\n  ca_file: "${cert}"`,
            "heartbeat_interval_ms: 250",
            "link_timeout_ms: 2000",
            "reconnect_backoff_base_ms: 50",
            "reconnect_backoff_max_ms: 400",
          ].join("\n"),
        });
        servers.push(b);
        assert.match(b.url, /^ws:\/\//, "without a certificate a server listens on plain ws://");
        await eventually(
          "B is linked to A",
          () => b.server.router.state.servers.has(a.server.server_id),
        );
        const alice = users[0]!;
        const dave = await RefClient.connect({
          url: b.url,
          privateKeyPem: fixtureKeyPem("dave"),
          displayName: "dave",
        });
        try {
          await eventually(
            "alice sees dave",
            () =>
              alice.frames.some((f) =>
                f.type === "USER_ADVERTISE" && f.payload?.user_id === dave.userId
              ),
          );
          alice.send(
            buildDirect({
              from: alice.id,
              to: dave.userId,
              toPubkey: dave.pubkeyText(),
              plaintext: "across a TLS link",
              privateKey: alice.key,
            }),
          );
          const got = dave.openDeliver(await dave.next("USER_DELIVER"));
          assert.equal(got.plaintext, "across a TLS link");
          assert.equal(got.contentSigOk, true);
        } finally {
          dave.terminate();
        }
      });

      await t.step("`serve --tls-cert --tls-key` listens on wss://", async () => {
        const dataDir = await Deno.makeTempDir({ prefix: "socp-tls-cli-" });
        await Deno.copyFile(
          new URL("./fixtures/keys/server3.pem", import.meta.url),
          join(dataDir, "server_key.pem"),
        );
        await Deno.chmod(join(dataDir, "server_key.pem"), 0o600);
        const p = await startServerProcess(dataDir, ["--tls-cert", cert, "--tls-key", key]);
        try {
          assert.match(p.url, /^wss:\/\//);
          const u = new TlsUser("eve");
          users.push(u);
          await u.connect(p.url, ca);
        } finally {
          await p.stop();
        }
      });
    } finally {
      for (const u of users) u.close();
      for (const s of servers.reverse()) await s.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
