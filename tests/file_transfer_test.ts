// Goal: file transfer. A 1 MiB file crosses two real servers intact with progress on
// both sides; and a hostile or broken sender (the independent reference client, crafting the
// frames) cannot write outside the downloads folder, and a corrupted, missing or duplicated
// chunk behaves as specified: no partial file is ever presented as complete.
import assert from "node:assert/strict";
import { join } from "node:path";
import { createHash } from "node:crypto";
import {
  b64uEncode,
  fixtureKeyPem,
  importPublicKey,
  oaepEncrypt,
  RefClient,
} from "./independent/ref_client.ts";
import {
  type ClientProcess,
  eventually,
  fixturePubkey,
  freePort,
  health,
  makeDataDir,
  type ServerProcess,
  startClientProcess,
  startServerProcess,
  writeBootstrap,
} from "./harness/processes.ts";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test({
  name:
    "files: 1 MiB across two servers with progress; traversal, corrupt, missing and duplicate chunks",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const ports = [freePort(), freePort()];
    const dirs = [await makeDataDir("server1"), await makeDataDir("server2")];
    const intro = { host: "127.0.0.1", port: ports[0]!, pubkey: await fixturePubkey("server1") };
    const servers: ServerProcess[] = [];
    const clients: ClientProcess[] = [];
    const work = await Deno.makeTempDir();
    try {
      for (let i = 0; i < 2; i++) {
        servers.push(
          await startServerProcess(dirs[i]!, [
            "--bootstrap",
            await writeBootstrap(dirs[i]!, i === 0 ? [] : [intro]),
          ], ports[i]!),
        );
      }
      await eventually("linked", async () => (await health(ports[0]!)).servers_linked === 1);
      const alice = await startClientProcess(servers[0]!.url, "alice", work);
      const bob = await startClientProcess(servers[1]!.url, "bob", work);
      clients.push(alice, bob);
      await alice.next(
        (e) => e.event === "online" && e.user_id === bob.user_id,
        15_000,
        "bob online",
      );

      await t.step(
        "a 1 MiB file crosses two servers intact, with progress on both sides",
        async () => {
          const big = new Uint8Array(1024 * 1024);
          for (let i = 0; i < big.length; i += 65536) {
            crypto.getRandomValues(big.subarray(i, i + 65536));
          }
          const path = join(work, "big.bin");
          await Deno.writeFile(path, big);
          await alice.command(`/file bob ${path}`);
          const saved = await bob.next(
            (e) => e.event === "file_saved" || e.event === "file_failed",
            120_000,
            "file saved",
          );
          assert.equal(saved.event, "file_saved", JSON.stringify(saved));
          assert.equal(saved.sha256, sha256(big));
          assert.equal(saved.verified, true);
          assert.deepEqual(await Deno.readFile(String(saved.path)), big);
          // The sender's 100 % is the receiver's receipt for FILE_END: it may come just after.
          await alice.next(
            (e) => e.event === "progress" && e.bytes === big.length,
            30_000,
            "100 %",
          );
          const sent = alice.events.filter((e) => e.event === "progress");
          const got = bob.events.filter((e) => e.event === "progress");
          assert.ok(sent.length >= 2 && got.length >= 2, "progress reported on both sides");
          assert.equal(sent.at(-1)!.bytes, big.length);
          assert.equal(got.at(-1)!.bytes, big.length);
          for (const p of [...sent, ...got]) {
            assert.ok(typeof p.rate_bps === "number" && typeof p.eta_s === "number");
          }
        },
      );

      const mallory = await RefClient.connect({
        url: servers[0]!.url,
        privateKeyPem: fixtureKeyPem("eve"),
        displayName: "mallory",
      });
      await eventually(
        "mallory knows bob",
        () => mallory.directory.get(bob.user_id)?.pubkey !== undefined,
      );
      const bobKey = importPublicKey(mallory.directory.get(bob.user_id)!.pubkey!);
      const offer = (name: string, content: Uint8Array) => {
        const file_id = crypto.randomUUID();
        mallory.send(
          mallory.frame("FILE_START", bob.user_id, {
            file_id,
            name,
            size: content.length,
            sha256: sha256(content),
            mode: "dm",
          }),
        );
        return file_id;
      };
      const chunk = (file_id: string, index: number, bytes: Uint8Array) =>
        mallory.send(
          mallory.frame("FILE_CHUNK", bob.user_id, {
            file_id,
            index,
            ciphertext: b64uEncode(oaepEncrypt(bobKey, bytes)),
          }, { sign: false }),
        );
      const end = (file_id: string) =>
        mallory.send(mallory.frame("FILE_END", bob.user_id, { file_id }));
      const outcome = (file_id: string) =>
        bob.next(
          (e) => (e.event === "file_saved" || e.event === "file_failed") && e.file_id === file_id,
          20_000,
          `outcome of ${file_id}`,
        );
      const content = new TextEncoder().encode("root:x:0:0:root:/root:/bin/bash\n".repeat(40));
      const slices = [0, 400, 800, 1200].map((at) => content.subarray(at, at + 400));
      const sendAll = (id: string, skip = -1) =>
        slices.forEach((s, i) => i !== skip && chunk(id, i, s));

      await t.step(
        "a file named ../../etc/passwd lands safely inside the downloads folder",
        async () => {
          const id = offer("../../etc/passwd", content);
          sendAll(id);
          end(id);
          const saved = await outcome(id);
          assert.equal(saved.event, "file_saved", JSON.stringify(saved));
          const path = String(saved.path);
          assert.equal(path, join(work, "downloads", "bob", "passwd"));
          assert.deepEqual(await Deno.readFile(path), content);
          // Same name again: no overwrite.
          const again = offer("../../etc/passwd", content);
          sendAll(again);
          end(again);
          assert.match(String((await outcome(again)).path), /passwd \(1\)$/);
        },
      );

      await t.step("duplicate and reordered chunks are harmless", async () => {
        const id = offer("dup.txt", content);
        chunk(id, 3, slices[3]!);
        chunk(id, 2, slices[2]!);
        chunk(id, 0, slices[0]!);
        chunk(id, 0, slices[0]!);
        chunk(id, 1, slices[1]!);
        end(id);
        const saved = await outcome(id);
        assert.equal(saved.event, "file_saved");
        assert.equal(saved.sha256, sha256(content));
      });

      await t.step("a missing chunk fails with a clear error and saves nothing", async () => {
        const id = offer("missing.txt", content);
        sendAll(id, 1);
        end(id);
        const failed = await outcome(id);
        assert.equal(failed.event, "file_failed");
        assert.match(String(failed.reason), /missing chunk\(s\) 1/);
      });

      await t.step("a corrupted chunk fails with a clear error and saves nothing", async () => {
        const id = offer("corrupt.txt", content);
        sendAll(id, 1);
        mallory.send(
          mallory.frame("FILE_CHUNK", bob.user_id, {
            file_id: id,
            index: 1,
            ciphertext: b64uEncode(new Uint8Array(512).fill(9)),
          }, { sign: false }),
        );
        end(id);
        const failed = await outcome(id);
        assert.equal(failed.event, "file_failed");
        assert.match(String(failed.reason), /chunk 1 could not be decrypted/);
        const wrongHash = offer("tampered.txt", content);
        sendAll(wrongHash, 1);
        chunk(wrongHash, 1, new Uint8Array(400).fill(65));
        end(wrongHash);
        assert.match(String((await outcome(wrongHash)).reason), /sha256 mismatch/);
        const names = [];
        for await (
          const e of Deno.readDir(
            join(String((bob.events.find((x) => x.event === "file_saved")!).path), ".."),
          )
        ) names.push(e.name);
        assert.ok(
          !names.some((n) => /missing|corrupt|tampered|\.(part|tmp)$/.test(n)),
          `partial files saved: ${names}`,
        );
      });
      mallory.terminate();
    } finally {
      for (const c of clients) await c.kill();
      for (const s of servers) await s.stop().catch(() => {});
    }
  },
});
