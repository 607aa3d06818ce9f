/**
 * The MCP 2026-07-28 standard request headers (SEP-2243) against the body the policy decides on.
 *
 * `Mcp-Method` mirrors the JSON-RPC `method`; `Mcp-Name` mirrors `params.name` (`tools/call`,
 * `prompts/get`), `params.uri` (`resources/read`) or `params.taskId` (`tasks/get`, `tasks/update`,
 * `tasks/cancel`), as it is or as `=?base64?<canonical Base64 of its UTF-8>?=`. The headers exist
 * so that load balancers, gateways and rate limiters can act without reading the body, while the
 * server runs the body: where the two disagree, the guard would have authorized one operation and
 * something on the way another (a confused deputy). So a header that is there must agree with the
 * body; whether it must be there is the server's to require (a 2025 client sends neither).
 *
 * Framework-free: the caller hands over the two headers (`undefined` when absent, a list when
 * the request carried several lines of one: each may appear once, RFC 9110 §5.3, and a proxy
 * may keep either) and the parsed body. Linear in the header and name lengths.
 */
import { isObject, own } from './jsonrpc.js';

/** Which `params` member `Mcp-Name` mirrors, per method (the methods that have one). */
const NAME_SOURCE: Readonly<Record<string, string>> = Object.freeze(Object.assign(Object.create(null) as Record<string, string>, {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
}));

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
/** Canonical Base64 (padding required, no whitespace); the bits a last character leaves unused are checked apart. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** UTF-8 exactly: a byte order mark is a character of the name like any other (the default decoder drops it). */
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** What a header value may hold as it is (SEP-2243: anything else is sent Base64-encoded): printable ASCII, SP, HTAB. */
const PLAIN = /^[\t\x20-\x7e]*$/;

/** A field value without the optional whitespace (SP, HTAB) around it (RFC 9110 §5.5). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * An `Mcp-Name` value decoded: as it is (printable ASCII only), or the UTF-8 text of a Base64
 * sentinel; `undefined` for bytes outside printable ASCII (Node reads them as Latin-1, which a
 * gateway comparing UTF-8 would not), or a sentinel that is not canonical Base64 of UTF-8 (the
 * spec has servers refuse it). A value that starts with `=?base64?` and ends with `?=` is a
 * sentinel, as the SDK reads it (`=?base64?=` decodes to the empty name).
 */
export function decodeNameHeader(value: string): string | undefined {
  const v = trimOws(value);
  if (!PLAIN.test(v)) return undefined;
  if (!v.startsWith(SENTINEL_PREFIX) || !v.endsWith(SENTINEL_SUFFIX)) return v;
  const end = v.length - SENTINEL_SUFFIX.length;
  const b64 = end > SENTINEL_PREFIX.length ? v.slice(SENTINEL_PREFIX.length, end) : '';
  if (!BASE64.test(b64)) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  // Canonical: the one spelling of these bytes (no unused bits set in the last character).
  if (bytes.toString('base64') !== b64) return undefined;
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Why the headers disagree with the body, or `undefined` when they agree (or are absent).
 * - either header twice (two lines);
 * - a header beside a batch, or beside a body that is no request (a batch or an answer carries
 *   none: 2026 has no batches);
 * - `Mcp-Method` other than the body's `method`;
 * - `Mcp-Name` that is an invalid sentinel or not printable ASCII, or other than the body's member it mirrors, or
 *   present where the body has no such member (nothing there for it to name). On a method
 *   without a name, `Mcp-Name` is left alone, as the SDK leaves it.
 */
export function headerMismatch(methodHeader: string | readonly string[] | undefined, nameHeader: string | readonly string[] | undefined, body: unknown): string | undefined {
  if (methodHeader === undefined && nameHeader === undefined) return undefined;
  if (typeof methodHeader === 'object' || typeof nameHeader === 'object') return 'The Mcp-Method and Mcp-Name headers may each appear once';
  const method = isObject(body) ? own(body, 'method') : undefined;
  if (typeof method !== 'string') return 'The Mcp-Method and Mcp-Name headers belong to a single JSON-RPC request';
  if (methodHeader !== undefined && trimOws(methodHeader) !== method) return 'The Mcp-Method header does not name the method of the request body';
  if (nameHeader === undefined) return undefined;
  const field = NAME_SOURCE[method];
  if (field === undefined) return undefined;
  const decoded = decodeNameHeader(nameHeader);
  if (decoded === undefined) return 'The Mcp-Name header is neither printable ASCII nor canonical Base64 of UTF-8';
  const params = own(body as Record<string, unknown>, 'params');
  const value = isObject(params) ? own(params, field) : undefined;
  if (decoded !== value) return `The Mcp-Name header does not name the params.${field} of the request body`;
  return undefined;
}
