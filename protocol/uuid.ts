/**
 * UUID v4, the form SOCP ids take (spec §2). Servers and users of other implementations
 * sometimes use placeholders (`"server"`, `"server_1"`, `"auto"`); diagnostics name those.
 * @module
 */

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True when `id` is a UUID v4. */
export function isUuidV4(id: unknown): boolean {
  return typeof id === "string" && UUID_V4.test(id);
}
