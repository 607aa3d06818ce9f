/**
 * Session issuance at the HTTP layer (`bindSessions`): the `Mcp-Session-Id` a 2xx answer to an
 * `initialize` request carries is bound to the identity of the token that asked
 * (`policy/bindings.ts`), by wrapping `res.writeHead` once (Node's implicit headers, `res.json()`
 * and `flushHeaders()` go through it too). The binding is made before the answer leaves, so the
 * client's next request finds it.
 */
import type { Response } from 'express';
import { headerOf, type Headers } from './head.js';

function isInitialize(message: unknown): boolean {
  return message !== null && typeof message === 'object' && (message as { method?: unknown }).method === 'initialize';
}

/**
 * Whether a request without a session id may open one: its parsed body holds an `initialize`
 * request, or its body was not parsed (no parser before `protect()`, no tool policy): then it may.
 */
export function mayOpenSession(body: unknown): boolean {
  if (body === undefined || body === null || typeof body !== 'object') return true;
  return Array.isArray(body) ? body.some(isInitialize) : isInitialize(body);
}

/** Call `issued(id)` with the session id of the response, if its status is 2xx and it carries one. */
export function watchSessionIssue(res: Response, issued: (id: string) => void): void {
  const orig = res.writeHead;
  const writeHead = function sessionIssueWriteHead(this: Response, ...args: unknown[]): Response {
    if (res.writeHead === writeHead) res.writeHead = orig;
    const status = Number(args[0]);
    const id = status >= 200 && status < 300 ? headerOf(res, (typeof args[1] === 'string' ? args[2] : args[1]) as Headers, 'mcp-session-id') : undefined;
    if (id !== undefined) issued(id.trim());
    return (orig as unknown as (...a: unknown[]) => Response).apply(res, args);
  } as Response['writeHead'];
  res.writeHead = writeHead;
}
