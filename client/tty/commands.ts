/**
 * The slash commands, shared by the interactive and the scripted (`--json`) client. What a
 * command produces goes to the shell, which shows it as a transcript line or a JSON event.
 * @module
 */
import type { ChatSession, ClientEvent } from "../session.ts";

/** Where commands find the session and show their results. */
export interface Shell {
  /** The live session; throws a sentence for the user while there is none. */
  session(): ChatSession;
  show(event: ClientEvent): void;
  help(): void;
  /** `--json`: `/list` is the server's list as it comes, for scripts. */
  scripted?: boolean;
}

/** Runs one command line; true when the user asked to quit. */
export async function command(shell: Shell, line: string): Promise<boolean> {
  if (line === "") return false;
  const [verb, ...words] = line.split(/\s+/);
  try {
    switch (verb) {
      case "/list": {
        const session = shell.session();
        const users = shell.scripted ? await session.list() : await everyone(session);
        shell.show({ event: "list", users });
        return false;
      }
      case "/tell":
        await tell(shell, line, words);
        return false;
      case "/all": {
        const message = line.replace(/^\/all\s?/, "");
        if (!message) throw new Error("Usage: /all <text>");
        const members = await shell.session().all(message);
        shell.show({ event: "sent", to: "public", label: "public channel", parts: members });
        return false;
      }
      case "/file":
        await file(shell, words);
        return false;
      case "/accept":
        accept(shell, words[0]);
        return false;
      case "/history":
        await history(shell, words);
        return false;
      case "/trust": {
        if (!words[0]) throw new Error("Usage: /trust <user>");
        const session = shell.session();
        const user = await session.resolve(words[0]);
        await session.trustNewKey(user.user_id);
        shell.show({ event: "trusted", user_id: user.user_id, label: user.label });
        return false;
      }
      case "/whois": {
        if (!words[0]) throw new Error("Usage: /whois <user>");
        shell.show(await shell.session().whois(words[0]));
        return false;
      }
      case "/quit":
        return true;
      case "/help":
        shell.help();
        return false;
      default:
        throw new Error(`Unknown command "${verb}": try /help`);
    }
  } catch (e) {
    shell.show({ event: "error", code: "CLIENT", detail: (e as Error).message });
    return false;
  }
}

/** Everyone this client knows, online or seen before, and ourselves. */
async function everyone(session: ChatSession) {
  const me = { user_id: session.user_id, label: session.label(session.user_id), online: true };
  return [me, ...(await session.users()).filter((u) => u.user_id !== me.user_id)];
}

async function tell(shell: Shell, line: string, words: string[]): Promise<void> {
  const [target, ...text] = words;
  if (!target || text.length === 0) throw new Error("Usage: /tell <user> <text>");
  const message = line.replace(/^\/tell\s+\S+\s/, "");
  const session = shell.session();
  const sent = await session.tell(target, message);
  shell.show({
    event: "sent",
    to: sent.to.user_id,
    label: session.label(sent.to.user_id),
    parts: sent.refs.length,
    msg_refs: sent.refs,
  });
}

async function file(shell: Shell, words: string[]): Promise<void> {
  const [target, ...rest] = words;
  const path = rest.join(" ");
  if (!target || !path) throw new Error("Usage: /file <user> <path>, or /file all <path>");
  const sent = await shell.session().sendFile(target, path);
  shell.show({
    event: "file_sent",
    file_id: sent.file_id,
    name: path.split("/").pop()!,
    to: target,
    recipients: sent.recipients.length,
  });
}

/** `/accept ID` saves the waiting file whose id starts with ID; `/accept all` every one. */
function accept(shell: Shell, which: string | undefined): void {
  if (!which) throw new Error("Usage: /accept <file id>, or /accept all");
  const session = shell.session();
  const waiting = session.filesWaiting();
  const chosen = which === "all" ? waiting : waiting.filter((id) => id.startsWith(which));
  if (chosen.length === 0) {
    throw new Error(waiting.length === 0 ? "No file is waiting" : `No waiting file "${which}"`);
  }
  if (chosen.length > 1 && which !== "all") {
    throw new Error(`"${which}" names ${chosen.length} waiting files: type more of the id`);
  }
  for (const id of chosen) session.accept(id);
}

/** `/history NAME [N]`: the last N messages with a user (or `public`), from the local history. */
async function history(shell: Shell, words: string[]): Promise<void> {
  const [target, count] = words;
  const limit = count === undefined ? 20 : Number(count);
  if (!target || !Number.isInteger(limit) || limit < 1) {
    throw new Error("Usage: /history <user>|public [count]");
  }
  const session = shell.session();
  const entries = await session.history(target, limit);
  const label = target === "public"
    ? "public"
    : session.label((await session.resolve(target)).user_id);
  shell.show({ event: "history", with: label, entries });
}
