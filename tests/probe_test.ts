// Goal: the probe (`main.ts probe`) passes our own server on every check, and names the weakness
// of each deliberately broken test double: a server that accepts RSA-1024 keys, one without
// replay suppression, one that trusts an unsigned USER_ADVERTISE. The doubles are tiny SOCP
// servers written here (our server has no weakness switch and must never get one); apart from
// their one weakness they behave well enough that every other check passes. One more double
// speaks the variants of SOCP-1.3.md §5/§12 that Python peers send, and must pass everything.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { constants, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { join } from "node:path";
import { defaultBackend, type PublicKey, signPayload, verifyPayload } from "../crypto/mod.ts";
import { b64uDecode, b64uEncode } from "../protocol/base64url.ts";
import { canonicalBytes, canonicalJson } from "../protocol/canonical.ts";
import { fixtureKeyPath, makeDataDir, ROOT, startServerProcess } from "./harness/processes.ts";

const ALL_CHECKS = [
  "users-connect",
  "list-sorted",
  "dm-delivered",
  "dm-sender-ts",
  "dm-content-sig",
  "user-not-found",
  "name-in-use",
  "weak-key-rsa1024",
  "weak-key-rsa2048",
  "weak-key-e3",
  "malformed-key-garbage",
  "malformed-key-truncated",
  "federation-link",
  "advertise-unsigned",
  "advertise-wrong-key",
  "federation-deliver",
  "replay-server-deliver",
  "unknown-type",
  "server-signs-frames",
];

interface ProbeRun {
  code: number;
  report: {
    checks: { name: string; status: string; reason: string }[];
    summary: { pass: number; fail: number; skip: number };
  };
  stderr: string;
}

async function probe(url: string, ...extra: string[]): Promise<ProbeRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "main.ts"),
      "probe",
      url,
      "--keys",
      join(ROOT, "tests/fixtures/keys"),
      "--json",
      "--timeout-ms",
      "3000",
      ...extra,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  let report;
  try {
    report = JSON.parse(stdout);
  } catch {
    throw new Error(`probe printed no JSON report (exit ${out.code}):\n${stdout}\n${stderr}`);
  }
  return { code: out.code, report, stderr };
}

/** Names of the checks with `status`. */
function named(run: ProbeRun, status: string): string[] {
  return run.report.checks.filter((c) => c.status === status).map((c) => c.name);
}

function explain(run: ProbeRun): string {
  return run.report.checks.map((c) => `${c.status} ${c.name}: ${c.reason}`).join("\n");
}

Deno.test({
  name: "probe: our own server passes every check (exit 0)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startServerProcess(await makeDataDir("server1"));
    try {
      const run = await probe(server.url);
      assert.deepEqual(run.report.checks.map((c) => c.name), ALL_CHECKS);
      assert.deepEqual(named(run, "PASS"), ALL_CHECKS, explain(run));
      assert.equal(run.code, 0);
    } finally {
      await server.stop();
    }
  },
});

// ---------------------------------------------------------------------------------------------
// The test doubles
// ---------------------------------------------------------------------------------------------

type Weakness =
  | "accepts-rsa1024"
  | "no-replay-suppression"
  | "trusts-unsigned-advertise"
  // Not weaknesses of §16, but interop failures the probe must explain:
  | "refuses-users"
  | "drops-dms-silently";

/**
 * "strict": what we send (ACK with server_pub, LIST_RESPONSE, salt 32, original ts in the
 * envelope). "python": the variants of §5/§12 — a USER_WELCOME reply with a PEM server_pub, PSS
 * salt 478, no /list (advertises relayed to users instead), a `clients` welcome with `user_id`
 * entries, the original ts only in `payload.msg_ts`.
 */
type Style = "strict" | "python";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A minimal SOCP server with at most one deliberate weakness, on 127.0.0.1 and a free port. */
async function startDouble(
  weakness: Weakness | "none",
  style: Style = "strict",
): Promise<{ url: string; close(): Promise<void> }> {
  const backend = defaultBackend();
  const pem = await Deno.readTextFile(fixtureKeyPath("server4"));
  const key = await backend.importPrivate(pem);
  const python = style === "python";
  const nodeKey = createPrivateKey(pem);
  const myPub = python
    ? createPublicKey(nodeKey).export({ type: "spki", format: "pem" }).toString()
    : key.publicKey.spki;
  const me = crypto.randomUUID();
  const users = new Map<string, WebSocket>();
  const remoteUsers = new Set<string>();
  const serverKeys = new Map<string, PublicKey>();
  const seenIds = new Set<string>();
  const sockets = new Set<WebSocket>();

  const send = async (ws: WebSocket, type: string, to: string, payload: Json, ts = Date.now()) => {
    const sig = python
      ? b64uEncode(sign("sha256", canonicalBytes(payload), {
        key: nodeKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 478,
      }))
      : await signPayload(backend, key, payload);
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type, from: me, to, ts, payload, sig }));
    }
  };
  const acceptableKey = (text: unknown): boolean => {
    try {
      const der = Buffer.from(b64uDecode(String(text))!);
      const details = createPublicKey({ key: der, format: "der", type: "spki" })
        .asymmetricKeyDetails!;
      const bits = details.modulusLength!;
      // The RSA-1024 backdoor: "at least 1024 bits" instead of "exactly 4096".
      const sizeOk = weakness === "accepts-rsa1024" ? bits >= 1024 : bits === 4096;
      return sizeOk && details.publicExponent === 65537n;
    } catch {
      return false;
    }
  };
  const verified = async (f: Json): Promise<boolean> => {
    const pinned = serverKeys.get(f.from);
    // The advertise backdoor: an empty sig skips verification instead of failing it.
    if (f.sig === "" && f.type === "USER_ADVERTISE" && weakness === "trusts-unsigned-advertise") {
      return true;
    }
    return pinned !== undefined && typeof f.sig === "string" && f.sig !== "" &&
      await verifyPayload(backend, pinned, f.payload, f.sig);
  };

  async function handle(ws: WebSocket, conn: { user?: string; server?: string }, raw: string) {
    const f = JSON.parse(raw);
    const p = f.payload ?? {};
    if (conn.user === undefined && conn.server === undefined) {
      if (f.type === "USER_HELLO") {
        if (weakness === "refuses-users") {
          return send(ws, "ERROR", f.from, { code: "BAD_KEY", detail: "users need a login" });
        }
        if (!acceptableKey(p.pubkey)) {
          return send(ws, "ERROR", f.from, { code: "BAD_KEY", detail: "RSA-4096, e=65537 only" });
        }
        if (users.has(f.from)) {
          return send(ws, "ERROR", f.from, { code: "NAME_IN_USE", detail: "already connected" });
        }
        conn.user = f.from;
        if (!python) {
          users.set(f.from, ws);
          return send(ws, "ACK", f.from, {
            msg_ref: "USER_HELLO",
            server_id: me,
            server_pub: myPub,
          });
        }
        await send(ws, "USER_WELCOME", f.from, { server_id: me, server_pub: myPub });
        const advertise = (user: string) => ({ user_id: user, server_id: me, meta: {} });
        for (const [other, link] of users) {
          await send(ws, "USER_ADVERTISE", "*", advertise(other));
          await send(link, "USER_ADVERTISE", "*", advertise(f.from));
        }
        users.set(f.from, ws);
        return;
      }
      if (f.type === "SERVER_HELLO_JOIN" || f.type === "SERVER_HELLO_LINK") {
        const pub = await backend.importPublic(p.pubkey);
        if (!pub.ok || !(await verifyPayload(backend, pub.key, p, f.sig))) {
          return send(ws, "ERROR", f.from, { code: "INVALID_SIG", detail: "bad hello" });
        }
        conn.server = f.from;
        serverKeys.set(f.from, pub.key);
        if (f.type === "SERVER_HELLO_LINK") return;
        const introducer = { user_id: me, host: "127.0.0.1", port: 1, pubkey: myPub };
        return send(ws, "SERVER_WELCOME", f.from, {
          assigned_id: f.from,
          ...(python ? { clients: [introducer] } : { servers: [] }),
        });
      }
      return send(ws, "ERROR", String(f.from), { code: "UNKNOWN_TYPE", detail: "hello first" });
    }
    if (conn.user !== undefined) {
      switch (f.type) {
        case "LIST_REQUEST":
          if (python) break; // no /list: clients build it from relayed advertises
          return send(ws, "LIST_RESPONSE", conn.user, {
            users: [...users.keys(), ...remoteUsers].sort(),
          });
        case "MSG_DIRECT": {
          const to = users.get(f.to);
          if (to === undefined) {
            return send(ws, "ERROR", conn.user, { code: "USER_NOT_FOUND", detail: f.to });
          }
          // Like a server that verifies content_sig in one layout only and drops the rest.
          if (weakness === "drops-dms-silently") return;
          const { ciphertext, sender_pub, content_sig } = p;
          const payload = { ciphertext, sender: conn.user, sender_pub, content_sig };
          if (python) return send(to, "USER_DELIVER", f.to, { ...payload, msg_ts: f.ts });
          return send(to, "USER_DELIVER", f.to, payload, f.ts);
        }
        case "CTRL_CLOSE":
          return;
      }
      return send(ws, "ERROR", conn.user, { code: "UNKNOWN_TYPE", detail: f.type });
    }
    if (!(await verified(f))) return;
    if (f.type === "USER_ADVERTISE") {
      remoteUsers.add(p.user_id);
      for (const user of users.values()) user.send(raw);
    }
    if (f.type === "SERVER_DELIVER") {
      const id = `${f.ts}|${f.from}|${f.to}|${canonicalJson(p)}`;
      // The replay backdoor: no seen_ids.
      if (weakness !== "no-replay-suppression") {
        if (seenIds.has(id)) return;
        seenIds.add(id);
      }
      const to = users.get(p.user_id);
      const { ciphertext, sender, sender_pub, content_sig } = p;
      if (to) {
        await send(
          to,
          "USER_DELIVER",
          p.user_id,
          { ciphertext, sender, sender_pub, content_sig },
          f.ts,
        );
      }
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("SOCP", { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    const conn: { user?: string; server?: string } = {};
    let queue = Promise.resolve();
    sockets.add(socket);
    socket.onmessage = (e) => {
      queue = queue.then(() => handle(socket, conn, String(e.data))).catch(() => {});
    };
    socket.onclose = () => {
      sockets.delete(socket);
      if (conn.user !== undefined && users.get(conn.user) === socket) users.delete(conn.user);
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    async close() {
      for (const socket of sockets) socket.close();
      await server.shutdown();
    },
  };
}

const DOUBLES: { weakness: Weakness; fails: string[]; why: RegExp }[] = [
  {
    weakness: "accepts-rsa1024",
    fails: ["weak-key-rsa1024", "weak-key-rsa2048"],
    why: /RSA-1024 key accepted: the server answered ACK/,
  },
  {
    weakness: "no-replay-suppression",
    fails: ["replay-server-deliver"],
    why: /delivered twice/,
  },
  {
    weakness: "trusts-unsigned-advertise",
    fails: ["advertise-unsigned"],
    why: /with no signature was trusted: its fake user is in \/list and was relayed/,
  },
];

for (const { weakness, fails, why } of DOUBLES) {
  Deno.test({
    name: `probe: a double that ${weakness.replaceAll("-", " ")} fails ${
      fails.join(", ")
    } (exit 1)`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const double = await startDouble(weakness);
      try {
        const run = await probe(double.url);
        assert.equal(run.code, 1, explain(run));
        assert.deepEqual(named(run, "FAIL"), fails, explain(run));
        assert.match(run.report.checks.find((c) => c.name === fails[0])!.reason, why);
        // Everything else passes: the verdict is about the weakness, not a probe misreading.
        assert.deepEqual(named(run, "SKIP"), [], explain(run));
      } finally {
        await double.close();
      }
    },
  });
}

Deno.test({
  name: "probe: a double speaking the Python variants of §5/§12 passes every check (exit 0)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const double = await startDouble("none", "python");
    try {
      const run = await probe(double.url);
      assert.deepEqual(named(run, "PASS"), ALL_CHECKS, explain(run));
      assert.equal(run.code, 0);
      const reason = (name: string) => run.report.checks.find((c) => c.name === name)!.reason;
      assert.match(reason("users-connect"), /USER_WELCOME/);
      assert.match(reason("list-sorted"), /no \/list request is answered/);
      assert.match(reason("dm-sender-ts"), /original ts kept \(payload\)/);
    } finally {
      await double.close();
    }
  },
});

Deno.test({
  name: "probe: a target that refuses every user still gets its federation checks",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const double = await startDouble("refuses-users");
    try {
      const run = await probe(double.url);
      assert.equal(run.code, 1, explain(run));
      assert.deepEqual(named(run, "FAIL"), ["users-connect"], explain(run));
      const link = run.report.checks.find((c) => c.name === "federation-link")!;
      assert.equal(link.status, "PASS", explain(run));
      assert.match(link.reason, /joined with SERVER_HELLO_JOIN.*presence not observed/);
    } finally {
      await double.close();
    }
  },
});

Deno.test({
  name: "probe: a DM dropped without an ERROR is reported as a likely content_sig layout mismatch",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const double = await startDouble("drops-dms-silently");
    try {
      const run = await probe(double.url);
      assert.deepEqual(named(run, "FAIL"), ["dm-delivered"], explain(run));
      assert.match(
        run.report.checks.find((c) => c.name === "dm-delivered")!.reason,
        /nothing was delivered and no ERROR came back: likely a content_sig layout mismatch/,
      );
    } finally {
      await double.close();
    }
  },
});

Deno.test("probe: --help exits 0; a missing target or a bad option exits 2", async () => {
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, "main.ts"), "probe", ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /Usage: .* probe ws:\/\/HOST:PORT/);
  const missing = await run();
  assert.equal(missing.code, 2);
  assert.match(new TextDecoder().decode(missing.stderr), /Missing the target address/);
  const bad = await run("ws://127.0.0.1:1", "--timeout-ms", "soon");
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /Invalid --timeout-ms "soon"/);
});
