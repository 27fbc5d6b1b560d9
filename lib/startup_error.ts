/**
 * The one kind of error a command prints as it is and exits 2 for: an operator's mistake or a
 * state of the disk or network that must stop a start (a port in use, a data dir that is a file,
 * a corrupt database). The message is one plain sentence naming the file or port and what to do,
 * never a stack trace.
 * @module
 */

/** A start that must not go on; `message` is what the operator reads. */
export class StartupError extends Error {
  override name = "StartupError";
}

/** Runs `command`, turning a {@linkcode StartupError} into its sentence on stderr and exit 2. */
export async function refusing(command: () => number | Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (e) {
    if (!(e instanceof StartupError)) throw e;
    console.error(e.message);
    return 2;
  }
}
