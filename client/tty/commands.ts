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
  /** Our message `text` left, as `event` says. */
  sent(event: Extract<ClientEvent, { event: "sent" }>, text: string): void;
  help(): void;
}

/** Runs one command line; true when the user asked to quit. */
export async function command(shell: Shell, line: string): Promise<boolean> {
  if (line === "") return false;
  const [verb, ...words] = line.split(/\s+/);
  try {
    switch (verb) {
      case "/list":
        shell.show({ event: "list", users: await shell.session().list() });
        return false;
      case "/tell": {
        const [target, ...text] = words;
        if (!target || text.length === 0) throw new Error("Usage: /tell <user> <text>");
        const message = line.replace(/^\/tell\s+\S+\s/, "");
        const session = shell.session();
        const sent = await session.tell(target, message);
        shell.sent({
          event: "sent",
          to: sent.to.user_id,
          label: session.label(sent.to.user_id),
          parts: sent.refs.length,
          msg_refs: sent.refs,
        }, message);
        return false;
      }
      case "/all": {
        const message = line.replace(/^\/all\s?/, "");
        if (!message) throw new Error("Usage: /all <text>");
        const members = await shell.session().all(message);
        shell.sent(
          { event: "sent", to: "public", label: "public channel", parts: members },
          message,
        );
        return false;
      }
      case "/file": {
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
