/**
 * Sessions at the HTTP layer (`bindSessions`): the `Mcp-Session-Id` a 2xx answer to an
 * `initialize` request carries is bound to the identity of the token that asked
 * (`policy/bindings.ts`), and a 2xx answer to its owner's `DELETE` (the session ended) releases it,
 * by wrapping `res.writeHead` once (Node's implicit headers, `res.json()` and `flushHeaders()` go
 * through it too). Either is done before the answer leaves, so the client's next request sees it.
 */
import type { Response } from 'express';
import { headerOf, writeHeadHeaders, type Headers } from './head.js';

/** A JSON-RPC message (an object with a string `method`, or an answer: `result`/`error`). */
function isMessage(m: unknown): m is Record<string, unknown> {
  return m !== null && typeof m === 'object' && !Array.isArray(m)
    && (typeof (m as { method?: unknown }).method === 'string' || 'result' in m || 'error' in m);
}

/**
 * Whether a request without a session id may open one: unless its body is positively JSON-RPC
 * without an `initialize` (a message, or a non-empty batch of them), it may: a body not parsed yet,
 * or left as `{}` / a Buffer / a string by a parser for another type, may still be one.
 */
export function mayOpenSession(body: unknown): boolean {
  if (Array.isArray(body)) return body.length === 0 || !body.every(isMessage) || body.some((m) => m.method === 'initialize');
  return !isMessage(body) || body.method === 'initialize';
}

/** Call `success(headers)` before the response's head is written, if its status is 2xx. */
function onSuccess(res: Response, success: (headers: Headers) => void): void {
  const orig = res.writeHead;
  const writeHead = function sessionWriteHead(this: Response, ...args: unknown[]): Response {
    if (res.writeHead === writeHead) res.writeHead = orig;
    const status = Number(args[0]);
    if (status >= 200 && status < 300) success(writeHeadHeaders(args));
    return (orig as unknown as (...a: unknown[]) => Response).apply(res, args);
  } as Response['writeHead'];
  res.writeHead = writeHead;
}

/** Call `issued(id)` with the session id of the response, if its status is 2xx and it carries one. */
export function watchSessionIssue(res: Response, issued: (id: string) => void): void {
  onSuccess(res, (headers) => {
    const id = headerOf(res, headers, 'mcp-session-id');
    if (id !== undefined) issued(id.trim());
  });
}

/** Call `ended()` if the response (to a session's `DELETE`) is 2xx: the session is over. */
export function watchSessionEnd(res: Response, ended: () => void): void {
  onSuccess(res, ended);
}
