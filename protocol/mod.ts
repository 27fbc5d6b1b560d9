/**
 * The SOCP v1.3 wire protocol: pure code, no I/O. Frame types and schemas, the single parse of
 * untrusted text, canonical JSON, base64url, and every limit.
 * @module
 */
export * from "./base64url.ts";
export * from "./canonical.ts";
export * from "./frames.ts";
export * from "./limits.ts";
export * from "./parse.ts";
export * from "./ids.ts";
