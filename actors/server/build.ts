/** The build this code is, recorded in every event log so replay can tell logs apart. */
export const BUILD = "socp-deno 0.2.0";
