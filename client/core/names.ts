/**
 * Names for users: a user is shown by label (display name, else id) and may be addressed by id or
 * label, online or not. Labels of users this client saw before come from its own memory (pins and
 * contacts), so someone offline is still found by name. Online users win a name over remembered
 * ones; two users with one name are an error that lists their ids.
 * @module
 */

/** A user as the name index sees them. */
export interface Named {
  user_id: string;
  label?: string;
  online: boolean;
}

/** Why a name did not resolve. */
export class NameError extends Error {}

/** The label to show for a user. */
export function labelOf(user: Pick<Named, "user_id" | "label">): string {
  return user.label ?? user.user_id;
}

/** The one user `target` names (an id, or a label), preferring users online now. */
export function resolveName(target: string, users: Iterable<Named>): Named {
  const all = [...users];
  const exact = all.find((u) => u.user_id === target);
  if (exact) return exact;
  const named = all.filter((u) => u.label === target);
  const online = named.filter((u) => u.online);
  const pick = online.length > 0 ? online : named;
  if (pick.length === 1) return pick[0]!;
  if (pick.length > 1) {
    throw new NameError(
      `"${target}" is ambiguous: ${pick.map((u) => u.user_id).join(", ")}; use the id`,
    );
  }
  throw new NameError(`Unknown user "${target}": try /list`);
}

/** Users sorted by label (case-insensitively), then by id. */
export function sortByLabel<T extends Pick<Named, "user_id" | "label">>(users: Iterable<T>): T[] {
  return [...users].sort((a, b) =>
    labelOf(a).localeCompare(labelOf(b), undefined, { sensitivity: "base" }) ||
    a.user_id.localeCompare(b.user_id)
  );
}
