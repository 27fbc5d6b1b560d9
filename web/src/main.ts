/**
 * The browser client's page: onboarding (create, import, unlock), the chat (conversations,
 * messages with their verification status, files), notices and the connection state. Plain DOM,
 * no framework; every untrusted string goes through `textContent`.
 * @module
 */
import { FILE_BYTES_MAX } from "../../protocol/limits.ts";
import { Storage, type StoredIdentity } from "./db.ts";
import {
  type KeystoreFile,
  openKeystore,
  parseKeystore,
  sealKeystore,
  WrongPassphraseError,
} from "./keystore.ts";
import {
  decrypt,
  encrypt,
  generateKeyPair,
  importPkcs8,
  importPublic,
  type KeyPair,
} from "./rsa.ts";
import { History, type HistoryEntry } from "../../client/core/history.ts";
import { ChatSession, type ConnectionState, type SessionEvent } from "./session.ts";
import {
  type FileState,
  initialState,
  type Message,
  type PageAction,
  type PageState,
  PUBLIC,
  reduce,
} from "./state.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

/** Builds an element; strings become text nodes (never HTML). */
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}

let storage: Storage;
let session: ChatSession | undefined;
let me: { user_id: string; label: string; keystore: KeystoreFile } | undefined;
let page: PageState = initialState();
let nextSend = 1;
let sendingFile = false;
let countdown: ReturnType<typeof setInterval> | undefined;
const bubbles = new Map<number, HTMLElement>();
/** Download links of received files, by file key. */
const objectUrls = new Map<string, string>();

async function boot(): Promise<void> {
  if (!globalThis.isSecureContext || !crypto?.subtle) {
    showWelcome(undefined);
    return envProblem(
      "This page needs a secure context for its cryptography: open it over https://, or as http://localhost or http://127.0.0.1.",
    );
  }
  storage = await Storage.open();
  if (!storage.persistent) {
    addAlert(
      "warning",
      "This browser does not let the page store data (private mode?).",
      "Your identity will be lost when you close the tab: export the keystore to keep it.",
    );
  }
  wireWelcome();
  wireChat();
  showWelcome(await storage.identity());
}

function envProblem(text: string): void {
  const el = $("env-msg");
  el.textContent = text;
  el.hidden = false;
  for (const form of document.querySelectorAll("form")) {
    for (const b of form.querySelectorAll("button")) b.disabled = true;
  }
}

// ---------------------------------------------------------------- welcome: create / import / unlock

async function showWelcome(stored: StoredIdentity | undefined): Promise<void> {
  $("chat").hidden = true;
  $("me").hidden = true;
  $("welcome").hidden = false;
  for (const form of document.querySelectorAll<HTMLFormElement>("#welcome form")) form.reset();
  for (const id of ["unlock-msg", "create-msg", "import-msg"]) setMsg(id, "");
  $("unlock").hidden = stored === undefined;
  if (stored) {
    $("unlock-name").textContent = stored.display_name || stored.keystore.user_id;
    const pub = await importPublic(stored.keystore.pubkey);
    $("unlock-fp").textContent = pub.ok ? pub.key.fingerprint : "unreadable key";
    $("unlock-h").textContent = "Welcome back";
    $("create-h").textContent = "Or create a new identity";
    $("import-h").textContent = "Or import a keystore";
    $<HTMLInputElement>("unlock-pass").focus();
  } else {
    $("create-h").textContent = "Create a new identity";
    $("import-h").textContent = "Import a keystore";
  }
}

function setMsg(id: string, text: string, kind: "error" | "ok" | "" = "error"): void {
  const el = $(id);
  el.textContent = text;
  el.className = `msg ${kind}`;
}

function busy(form: HTMLFormElement, on: boolean): void {
  for (const el of form.querySelectorAll<HTMLInputElement | HTMLButtonElement>("input, button")) {
    el.disabled = on;
  }
  form.setAttribute("aria-busy", String(on));
}

/** Asks before a stored identity is replaced (it cannot be recovered without an export). */
async function mayReplace(): Promise<boolean> {
  const stored = await storage.identity();
  return !stored || confirm(
    `This replaces the identity "${
      stored.display_name || stored.keystore.user_id
    }" stored on this device. ` +
      "Export its keystore first if you want to keep it. Continue?",
  );
}

function wireWelcome(): void {
  const unlockForm = $<HTMLFormElement>("unlock-form");
  unlockForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const stored = await storage.identity();
    const pass = $<HTMLInputElement>("unlock-pass").value;
    if (!stored) return;
    if (!pass) return setMsg("unlock-msg", "Enter your passphrase.");
    busy(unlockForm, true);
    setMsg("unlock-msg", "Unlocking…", "");
    try {
      const pair = await openKeystore(stored.keystore, pass);
      await startChat(stored, pair);
    } catch (err) {
      setMsg("unlock-msg", messageOf(err));
      $<HTMLInputElement>("unlock-pass").select();
    } finally {
      busy(unlockForm, false);
    }
  });

  $("forget").addEventListener("click", async () => {
    const stored = await storage.identity();
    if (!stored) return;
    const ok = confirm(
      `Delete the identity "${stored.display_name || stored.keystore.user_id}" from this device? ` +
        "Without an exported keystore it is gone for good.",
    );
    if (!ok) return;
    await storage.forgetIdentity();
    showWelcome(undefined);
  });

  const createForm = $<HTMLFormElement>("create-form");
  createForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $<HTMLInputElement>("create-name").value.trim();
    const pass = $<HTMLInputElement>("create-pass").value;
    if (pass.length < 8) return setMsg("create-msg", "The passphrase needs at least 8 characters.");
    if (pass !== $<HTMLInputElement>("create-pass2").value) {
      return setMsg("create-msg", "The two passphrases differ.");
    }
    if (!(await mayReplace())) return;
    setMsg("create-msg", "", "");
    busy(createForm, true);
    $("create-progress").hidden = false;
    const started = performance.now();
    const status = $("create-status");
    const tick = setInterval(() => {
      status.textContent = `Generating an RSA-4096 key pair… ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s (usually 1–5 s)`;
    }, 100);
    status.textContent = "Generating an RSA-4096 key pair…";
    try {
      const generated = await generateKeyPair();
      clearInterval(tick);
      status.textContent = "Encrypting it under your passphrase…";
      const user_id = crypto.randomUUID();
      const keystore = await sealKeystore(generated.pair, user_id, pass);
      // The session gets a non-extractable copy; the clear PKCS#8 is wiped.
      const pair = await importPkcs8(generated.pkcs8);
      generated.pkcs8.fill(0);
      const stored = { keystore, display_name: name };
      await storage.saveIdentity(stored);
      status.textContent = "Done.";
      await startChat(stored, pair);
    } catch (err) {
      setMsg("create-msg", `Could not create the key pair: ${messageOf(err)}`);
    } finally {
      clearInterval(tick);
      $("create-progress").hidden = true;
      busy(createForm, false);
    }
  });

  const importForm = $<HTMLFormElement>("import-form");
  importForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $<HTMLInputElement>("import-file").files?.[0];
    const pass = $<HTMLInputElement>("import-pass").value;
    if (!file) return setMsg("import-msg", "Choose a keystore file first.");
    if (!pass) return setMsg("import-msg", "Enter the passphrase of that keystore.");
    if (file.size > 64 * 1024) {
      return setMsg("import-msg", "That file is too large to be a keystore.");
    }
    busy(importForm, true);
    setMsg("import-msg", "Opening the keystore…", "");
    try {
      const keystore = parseKeystore(await file.text());
      const pair = await openKeystore(keystore, pass);
      if (!(await mayReplace())) return setMsg("import-msg", "", "");
      const stored = { keystore, display_name: $<HTMLInputElement>("import-name").value.trim() };
      await storage.saveIdentity(stored);
      await startChat(stored, pair);
    } catch (err) {
      setMsg("import-msg", messageOf(err));
    } finally {
      busy(importForm, false);
    }
  });
}

function messageOf(err: unknown): string {
  if (err instanceof WrongPassphraseError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------- chat

async function startChat(stored: StoredIdentity, pair: KeyPair): Promise<void> {
  const user_id = stored.keystore.user_id;
  me = { user_id, label: stored.display_name || user_id, keystore: stored.keystore };
  const history = await openHistory(user_id, pair);
  page = initialState();
  for (const name of history?.names() ?? []) {
    for (const m of history!.history(name, HISTORY_SHOWN)) {
      page = reduce(page, pastMessage(name, m));
    }
  }
  convItems.clear();
  $("welcome").hidden = true;
  $("chat").hidden = false;
  $("me").hidden = false;
  $("me-label").textContent = me.label;
  $("me-id").textContent = user_id;
  $("me-fp").textContent = pair.publicKey.fingerprint;
  const url = new URL("/", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  session = new ChatSession({
    url: url.href,
    user_id,
    pair,
    display_name: stored.display_name || undefined,
    memory: storage,
    onEvent,
    ...(history ? { history } : {}),
  });
  session.start();
  render();
  $<HTMLTextAreaElement>("composer-text").focus();
}

/** Messages of each conversation shown from the history when the page unlocks. */
const HISTORY_SHOWN = 50;

/** This user's encrypted history in IndexedDB; a warning and none when it cannot be opened. */
async function openHistory(user_id: string, pair: KeyPair): Promise<History | undefined> {
  try {
    return await History.open(storage.historyStore(user_id), {
      wrap: (raw) => encrypt(pair.publicKey, raw),
      unwrap: (wrapped) => decrypt(pair, wrapped),
    });
  } catch (err) {
    addAlert("warning", "Your earlier messages could not be read.", messageOf(err));
    return undefined;
  }
}

/** A stored message as the session would have told it. */
function pastMessage(conv: string, m: HistoryEntry): SessionEvent {
  return {
    event: "message",
    direction: m.from === me?.user_id ? "out" : "in",
    conv,
    from: m.from,
    to: m.to,
    label: m.from,
    text: m.text,
    ts: m.ts,
    verified: m.verified,
    parts: 1,
    missing: [],
  };
}

function lock(): void {
  session?.stop("locked");
  session = undefined;
  me = undefined;
  for (const url of objectUrls.values()) URL.revokeObjectURL(url);
  objectUrls.clear();
  page = initialState();
  bubbles.clear();
  $("log").replaceChildren();
  $("alerts").replaceChildren();
  clearInterval(countdown);
  setConnection({ state: "stopped", reason: "locked" });
  void storage.identity().then(showWelcome);
}

function wireChat(): void {
  $("lock").addEventListener("click", lock);
  $("export").addEventListener("click", () => {
    if (!me) return;
    const blob = new Blob([JSON.stringify(me.keystore, null, 2) + "\n"], {
      type: "application/json",
    });
    download(blob, `socp-keystore-${safeName(me.label)}.json`);
    addAlert(
      "warning",
      "Keystore exported.",
      "It is encrypted under your passphrase; import it on another device or give it to the terminal client with --keystore.",
    );
  });
  $("retry").addEventListener("click", () => session?.retryNow());
  globalThis.addEventListener("online", () => session?.retryNow());
  $("trust").addEventListener("click", async () => {
    await session?.trustNewKey(page.current);
    const tag = `.alert[data-tag="key:${CSS.escape(page.current)}"]`;
    for (const el of document.querySelectorAll(tag)) {
      el.remove();
    }
    render();
  });
  const text = $<HTMLTextAreaElement>("composer-text");
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $<HTMLFormElement>("composer").requestSubmit();
    }
  });
  $<HTMLFormElement>("composer").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = text.value;
    if (!session || body.trim() === "") return;
    const conv = page.current;
    try {
      // The session tells its own messages back as "message" events (see onEvent).
      if (conv === PUBLIC) await session.sendPublic(body);
      else await session.sendDm(conv, body);
      text.value = "";
    } catch (err) {
      addAlert("error", "Not sent.", messageOf(err));
    }
  });
  $("attach").addEventListener("click", () => $<HTMLInputElement>("attach-input").click());
  $<HTMLInputElement>("attach-input").addEventListener("change", async (e) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (!file || !session) return;
    await sendOneFile(file);
  });
}

async function sendOneFile(file: File): Promise<void> {
  if (!session) return;
  if (file.size > FILE_BYTES_MAX) {
    return addAlert(
      "error",
      "File not sent.",
      `${file.name} is over the ${FILE_BYTES_MAX}-byte limit.`,
    );
  }
  const key = `out/${nextSend++}`;
  const from = session.user_id;
  apply({
    event: "send_file",
    key,
    conv: page.current,
    from,
    name: file.name,
    size: file.size,
    ts: Date.now(),
  });
  sendingFile = true;
  updateComposer();
  const bar = $<HTMLProgressElement>("send-bar");
  const status = $("send-status");
  $("send-progress").hidden = false;
  status.textContent = `Sending ${file.name}…`;
  try {
    const data = new Uint8Array(await file.arrayBuffer());
    const { recipients } = await session.sendFile(page.current, file.name, data, (done, total) => {
      bar.value = done / Math.max(total, 1);
      status.textContent = `Sending ${file.name}: ${Math.floor(bar.value * 100)}%`;
      apply({ event: "send_file_progress", key, done, total });
    });
    apply({ event: "send_file_done", key, recipients });
  } catch (err) {
    apply({ event: "send_file_failed", key, reason: messageOf(err) });
    addAlert("error", `${file.name} was not sent completely.`, messageOf(err));
  } finally {
    sendingFile = false;
    $("send-progress").hidden = true;
    updateComposer();
  }
}

function onEvent(e: SessionEvent): void {
  if (!session || !me) return;
  switch (e.event) {
    case "connection":
      return setConnection(e.connection);
    case "contacts":
      renderConvs();
      renderHeader();
      return;
    case "key_changed":
      addAlert(
        "warning",
        `${session.label(e.user_id)}'s key changed.`,
        `Was ${e.previous}, now ${e.current}. Compare fingerprints with them before you trust the new key; until then nothing is sent to them.`,
        `key:${e.user_id}`,
      );
      renderConvs();
      renderHeader();
      return;
    case "error":
      addAlert("error", e.sentence, e.detail ? `Server: ${e.code}: ${e.detail}` : e.code);
      return;
    case "warning":
      // A changed key has its own alert (key_changed), with what to do about it.
      if (!e.message.startsWith("KEY CHANGED")) addAlert("warning", e.message);
      return;
    default:
      apply(e);
  }
}

/** Folds an event into the page state and draws what it changed. */
function apply(e: SessionEvent | PageAction): void {
  const before = page;
  page = reduce(page, e);
  const changed = page.changed;
  if (page === before || !changed) return;
  const msg = page.conversations.get(changed.conv)?.find((m) => m.id === changed.id);
  if (!msg) return;
  if (!changed.added) return updateBubble(msg);
  if (msg.conv === page.current) {
    const log = $("log");
    log.querySelector(".empty")?.remove();
    log.append(bubble(msg));
    log.scrollTop = log.scrollHeight;
  } else renderConvs();
}

function setConnection(c: ConnectionState): void {
  const pill = $("conn");
  const text = $("conn-text");
  pill.dataset.state = c.state;
  clearInterval(countdown);
  $("retry").hidden = c.state !== "waiting";
  switch (c.state) {
    case "connecting":
      text.textContent = c.attempt > 1 ? `Reconnecting (attempt ${c.attempt})…` : "Connecting…";
      break;
    case "online":
      text.textContent = c.hello === "quiet" ? "Online (no reply to hello, no error)" : "Online";
      $("server-fp").textContent =
        `${c.server_id || "server id unknown"} — key ${c.server_fingerprint}` +
        ` — DMs signed with content_sig layout ${c.content_sig}`;
      break;
    case "waiting": {
      const show = () => {
        const s = Math.max(0, Math.ceil((c.retry_at - Date.now()) / 1000));
        text.textContent = `Offline: ${c.reason}. Reconnecting in ${s} s`;
      };
      show();
      countdown = setInterval(show, 1000);
      break;
    }
    case "stopped":
      text.textContent = c.reason === "locked" ? "Not connected" : `Offline: ${c.reason}`;
      break;
  }
  updateComposer();
}

function updateComposer(): void {
  const online = session?.connection.state === "online";
  $<HTMLButtonElement>("send").disabled = !online;
  $<HTMLButtonElement>("attach").disabled = !online || sendingFile;
}

// ---------------------------------------------------------------- rendering

function render(): void {
  renderConvs();
  renderHeader();
  renderLog();
  updateComposer();
}

function label(user_id: string): string {
  if (me && user_id === me.user_id) return "You";
  return session?.label(user_id) ?? user_id;
}

function renderConvs(): void {
  if (!session) return;
  const contacts = [...session.contacts.values()];
  const ids = new Set([...contacts.map((c) => c.user_id), ...page.conversations.keys()]);
  ids.delete(PUBLIC);
  const sorted = [...ids].sort((a, b) => label(a).localeCompare(label(b)) || a.localeCompare(b));
  const online = contacts.filter((c) => c.online).length;
  const items = [PUBLIC, ...sorted].map((id) => {
    const contact = session!.contacts.get(id);
    const isOnline = id === PUBLIC || contact?.online === true;
    const count = page.unread.get(id) ?? 0;
    const { item, button } = convItem(id);
    button.setAttribute("aria-current", String(id === page.current));
    button.replaceChildren(
      ...[
        id === PUBLIC ? h("span", { class: "presence on", "aria-hidden": "true" }) : h("span", {
          class: `presence${isOnline ? " on" : ""}`,
          "aria-hidden": "true",
        }),
        h("span", { class: "name" }, id === PUBLIC ? "Public channel" : label(id)),
        id === PUBLIC
          ? undefined
          : h("span", { class: "visually-hidden" }, isOnline ? ", online" : ", offline"),
        contact?.keyChanged
          ? h("span", { class: "badge warn", title: "key changed" }, "key changed")
          : undefined,
        count > 0
          ? h(
            "span",
            { class: "badge" },
            String(count),
            h("span", { class: "visually-hidden" }, " unread"),
          )
          : undefined,
      ].filter((c) => c !== undefined),
    );
    return item;
  });
  const list = $("convs");
  const shown = [...list.children];
  if (shown.length !== items.length || items.some((item, i) => shown[i] !== item)) {
    list.replaceChildren(...items);
  }
  $("online-count").textContent = `${online} other user${online === 1 ? "" : "s"} online`;
}

/**
 * One list item per conversation, kept across renders and updated in place: the list re-renders
 * on every presence or unread change, and a button replaced between a user's mousedown and mouseup
 * would swallow the click.
 */
const convItems = new Map<string, { item: HTMLLIElement; button: HTMLButtonElement }>();

function convItem(id: string): { item: HTMLLIElement; button: HTMLButtonElement } {
  let found = convItems.get(id);
  if (!found) {
    const button = h("button", { type: "button", "data-conv": id });
    button.addEventListener("click", () => select(id));
    found = { item: h("li", {}, button), button };
    convItems.set(id, found);
  }
  return found;
}

function select(id: string): void {
  page = reduce(page, { event: "select", conv: id });
  render();
  $<HTMLTextAreaElement>("composer-text").focus();
}

function renderHeader(): void {
  if (!session) return;
  const warning = $("conv-warning");
  warning.hidden = true;
  if (page.current === PUBLIC) {
    const n = [...session.contacts.values()].filter((c) => c.online).length;
    $("conv-title").textContent = "Public channel";
    $("conv-sub").textContent =
      `Everyone on the network. Each message is encrypted separately for each of the ${n} other online user${
        n === 1 ? "" : "s"
      }.`;
    return;
  }
  const contact = session.contacts.get(page.current);
  $("conv-title").textContent = label(page.current);
  const sub = $("conv-sub");
  sub.replaceChildren(
    contact?.online ? "Online" : "Offline",
    " · id ",
    h("code", {}, page.current),
    ...(contact
      ? [h("br"), "Key fingerprint (SHA-256) ", h("code", { class: "fp" }, contact.key.fingerprint)]
      : []),
  );
  if (contact?.keyChanged) {
    warning.hidden = false;
    $("conv-warning-text").textContent = `Warning: ${label(page.current)}'s key changed. ` +
      `You trusted ${contact.keyChanged.previous}; the directory now gives ${contact.keyChanged.current}. ` +
      "Someone may be impersonating them. Compare the new fingerprint with them in person or over another channel before you trust it. Nothing is sent to them until you do.";
  }
}

function renderLog(): void {
  bubbles.clear();
  const list = page.conversations.get(page.current) ?? [];
  const log = $("log");
  if (list.length === 0) {
    log.replaceChildren(
      h(
        "li",
        { class: "empty" },
        page.current === PUBLIC
          ? "No public messages yet."
          : `No messages with ${label(page.current)} yet.`,
      ),
    );
  } else log.replaceChildren(...list.map(bubble));
  log.scrollTop = log.scrollHeight;
}

function bubble(m: Message): HTMLElement {
  const el = h("li", {
    class: `bubble${m.outgoing ? " mine" : ""}`,
    "data-kind": m.file ? "file" : m.conv === PUBLIC ? "public" : "dm",
  });
  bubbles.set(m.id, el);
  fillBubble(el, m);
  return el;
}

function updateBubble(m: Message): void {
  const el = bubbles.get(m.id);
  if (el && el.isConnected) fillBubble(el, m);
}

function fillBubble(el: HTMLElement, m: Message): void {
  const time = new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const meta = h(
    "div",
    { class: "meta" },
    h("span", { class: "who" }, label(m.from)),
    h("time", {
      datetime: new Date(m.ts).toISOString(),
    }, time),
  );
  const children: Node[] = [meta];
  if (m.text !== undefined) {
    meta.append(verification(m));
    el.dataset.verified = String(m.verified ?? m.outgoing);
    children.push(h("p", { class: "text" }, m.text));
  }
  if (m.file) children.push(fileBox(m.file, m.outgoing));
  el.replaceChildren(...children);
}

function verification(m: Message): HTMLElement {
  if (m.outgoing) return h("span", { class: "status" }, sentStatus(m));
  if (m.verified && !m.note) {
    return h("span", {
      class: "status ok",
      title: "The sender's signature (content_sig) checks out.",
    }, "✓ Verified");
  }
  if (m.verified) return h("span", { class: "status warn" }, `✓ Signature valid, but ${m.note}`);
  return h("span", { class: "status bad" }, `✗ Not verified: ${m.note ?? "no valid signature"}`);
}

/** What became of a message we sent, in words. */
function sentStatus(m: Message): string {
  if (m.recipients !== undefined) {
    const skipped = m.skipped?.length ? ` (not to ${m.skipped.join(", ")}: key changed)` : "";
    return `Sent, encrypted for ${m.recipients} member${m.recipients === 1 ? "" : "s"}${skipped}`;
  }
  switch (m.state) {
    case "queued":
      return `Queued on the server: ${label(m.conv)} is offline and gets it when back online`;
    case "delivered":
      return "Delivered";
    case "read":
      return "Read";
    default:
      return `Sent, encrypted and signed${(m.parts ?? 1) > 1 ? ` (${m.parts} parts)` : ""}`;
  }
}

/** A link to a received file's bytes, made once per file. */
function downloadUrl(f: FileState): string {
  let url = objectUrls.get(f.key);
  if (url === undefined && f.data) {
    url = URL.createObjectURL(new Blob([f.data], { type: "application/octet-stream" }));
    objectUrls.set(f.key, url);
  }
  return url ?? "#";
}

function fileBox(f: FileState, outgoing: boolean): HTMLElement {
  const box = h("div", { class: "file", "data-state": f.state });
  const percent = Math.floor((f.done / Math.max(f.total, 1)) * 100);
  const title = h(
    "p",
    { class: "text" },
    "File ",
    h("span", { class: "name" }, f.name),
    ` (${formatBytes(f.size)})`,
  );
  switch (f.state) {
    case "sending":
    case "receiving":
      box.append(
        title,
        h("progress", { max: "100", value: String(percent), "aria-label": `${f.name} progress` }),
        h("span", { class: "status" }, `${outgoing ? "Sending" : "Receiving"}: ${percent}%`),
      );
      break;
    case "sent":
      box.append(title, h("span", { class: "status ok" }, `✓ Sent ${f.reason ?? ""}`));
      break;
    case "ready": {
      const link = h(
        "a",
        { href: downloadUrl(f), download: safeName(f.name) },
        `Download ${f.name}`,
      );
      box.append(
        title,
        h("span", { class: "status ok" }, "✓ Size and SHA-256 match the sender's manifest"),
        h("br"),
        f.signed
          ? h("span", { class: "status ok" }, "✓ Manifest signed by the sender")
          : h("span", { class: "status warn" }, "⚠ Manifest signature not verified"),
        h("br"),
        link,
        h("code", { class: "hash" }, `sha256 ${f.sha256}`),
      );
      break;
    }
    case "failed":
      box.append(
        title,
        h("span", { class: "status bad" }, `✗ Failed: ${f.reason ?? "unknown error"}`),
      );
      break;
  }
  return box;
}

/**
 * Shows a notice. Errors stay until dismissed; a warning without a `tag` fades after 20 s; a
 * tagged one (a key change) stays until its cause is resolved.
 */
function addAlert(kind: "error" | "warning", title: string, detail?: string, tag?: string): void {
  const alerts = $("alerts");
  const text = `${title}\n${detail ?? ""}`;
  // The same notice again (a retry that fails the same way) is not repeated.
  for (const el of alerts.querySelectorAll<HTMLElement>(".alert")) {
    if (el.dataset.text === text) return;
  }
  const close = h(
    "button",
    { type: "button", class: "small", "aria-label": "Dismiss notice" },
    "✕",
  );
  const el = h(
    "div",
    { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("p", {}, h("strong", {}, title), detail ? h("span", { class: "detail" }, detail) : undefined),
    close,
  );
  close.addEventListener("click", () => el.remove());
  el.dataset.text = text;
  if (tag) el.dataset.tag = tag;
  else if (kind === "warning") setTimeout(() => el.remove(), 20_000);
  alerts.append(el);
  while (alerts.children.length > 4) alerts.firstElementChild?.remove();
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name safe to offer for download (client/file_name.ts sanitizeFileName). */
function safeName(name: string): string {
  const base = name.replace(/\\/g, "/").split("/").pop() ?? "";
  // deno-lint-ignore no-control-regex
  const clean = base.replace(/[\x00-\x1f\x7f<>:"|?*]/g, "_").replace(/^[.\s]+/, "").trim().slice(
    0,
    120,
  );
  return clean === "" ? "file" : clean;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

void boot();
