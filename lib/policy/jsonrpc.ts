/**
 * Reading parsed JSON-RPC messages safely (own properties only: a body is attacker-controlled, and
 * `__proto__` is a key like any other), and the `_meta` keys MCP reserves that the policy reads.
 * Framework-free; shared by the call checks (`tools.ts`) and the answer watching (`lists.ts`).
 */

/** The `_meta` key by which a message names the task it belongs to (MCP 2025-11-25). */
export const RELATED_TASK = 'io.modelcontextprotocol/related-task';
/** The per-request client capabilities (MCP 2026-07-28). */
export const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
/** The per-request protocol version (MCP 2026-07-28): only a 2026 request carries it. */
export const PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
/** The tasks extension's id (MCP 2026-07-28), under `clientCapabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** A plain object (not `null`, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Own property of a plain object, never an inherited one. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** A message's `params._meta` (own properties all the way), if it is an object. */
export function metaOf(msg: Record<string, unknown>): Record<string, unknown> | undefined {
  const params = own(msg, 'params');
  const meta = isObject(params) ? own(params, '_meta') : undefined;
  return isObject(meta) ? meta : undefined;
}
