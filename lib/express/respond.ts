/**
 * The one response writer: every failure of the guard is answered here.
 *
 * Status from the error; `WWW-Authenticate` for 401/403 (built by `challenge.ts`, with the
 * configured `resource_metadata`, never derived from `Host` or `X-Forwarded-*`; the `DPoP` scheme
 * when the request used it or `dpop` is `'required'`, else `Bearer`, followed by `DPoP algs` on a
 * 401 when `dpop` is `'allowed'`); with DPoP nonces on, `DPoP-Nonce` on every 401 (RFC 9449 §9);
 * `Retry-After` for 503; `Access-Control-Expose-Headers: WWW-Authenticate` (and `Retry-After` on a
 * 503, `DPoP-Nonce` with one; added to what the app set);
 * `Cache-Control: no-store`; `Connection: close` when an unread body is larger than `maxBodyBytes`
 * or chunked; a JSON-RPC 2.0 error body echoing the request's id when known.
 * Nothing of the token, and no stack trace, is ever written.
 */
import type { Request, Response } from 'express';
import { isDpopScheme } from '../bearer.js';
import { challenge } from '../challenge.js';
import { bodyMayExceed } from './body.js';
import { asMcpAuthError, AuthUnavailableError, InsufficientScopeError, JSONRPC_CODES, MissingTokenError, wireCodeOf, type WireCode } from '../errors.js';
import type { Config } from '../options.js';
import type { DpopNonces } from '../verify/dpop-nonce.js';

const MESSAGES: Readonly<Record<WireCode, string>> = {
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  INVALID_REQUEST: 'Invalid request',
  AUTH_UNAVAILABLE: 'Authorization server unavailable',
  AUTH_MISCONFIGURED: 'Authorization misconfigured',
  SESSION_NOT_FOUND: 'Session not found',
  HEADER_MISMATCH: 'Header mismatch',
};

/** Writes an error response for a request. */
export type Responder = (req: Request, res: Response, err: unknown) => void;

/**
 * The JSON-RPC id of a parsed body: the id of a single request (a message with a `method`), else
 * `null` (a batch, a notification, or a response: its id names a request of the other side).
 */
export function requestId(body: unknown): string | number | null {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && typeof (body as { method?: unknown }).method === 'string') {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return null;
}

/** Whether the request's credential used the `DPoP` scheme (its first `Authorization` value). */
function usedDpop(req: Request): boolean {
  const h = req.headers.authorization;
  const value = Array.isArray(h) ? h[0] : h;
  return typeof value === 'string' && isDpopScheme(value);
}

/** Add a value to a comma-separated response header unless present. */
function appendToken(res: Response, name: string, value: string): void {
  const current = res.getHeader(name);
  if (current === undefined) {
    res.setHeader(name, value);
    return;
  }
  const text = Array.isArray(current) ? current.join(', ') : String(current);
  if (!text.split(',').some((v) => v.trim().toLowerCase() === value.toLowerCase())) res.setHeader(name, `${text}, ${value}`);
}

/** Hand out a DPoP nonce (RFC 9449 §9): `DPoP-Nonce`, exposed to browser clients. */
export function sendNonce(res: Response, nonce: string): void {
  res.setHeader('DPoP-Nonce', nonce);
  appendToken(res, 'Access-Control-Expose-Headers', 'DPoP-Nonce');
}

/**
 * Build the responder of a guard. `baseScope` is the 401 challenge's `scope=`.
 * Unknown errors (bugs) become a 401 `invalid_token` without detail: fail closed, never a 500 with a stack.
 */
export function makeResponder(c: Config, baseScope: readonly string[], nonces?: DpopNonces): Responder {
  const resourceMetadata = c.resourceMetadataUrl;
  const algs = c.dpop === 'off' ? undefined : c.dpopAlgorithms;
  // With DPoP allowed, a 401 Bearer challenge names the DPoP scheme too (RFC 9449 §7.2, RFC 9110
  // §11.6.1: several challenges in one field): its own params first, so a client reading the
  // first challenge (the MCP SDK's) reads them.
  const alsoDpop = c.dpop === 'allowed' ? `, ${challenge({ algs }, 'DPoP')}` : '';
  const missing = {
    Bearer: challenge({ scope: baseScope, resource_metadata: resourceMetadata }) + alsoDpop,
    DPoP: challenge({ scope: baseScope, resource_metadata: resourceMetadata, algs }, 'DPoP'),
  };
  /** The scheme to challenge with: `DPoP` when it is required, or when the request used it. */
  const schemeOf = (req: Request): 'Bearer' | 'DPoP' => (c.dpop === 'required' || (c.dpop === 'allowed' && usedDpop(req)) ? 'DPoP' : 'Bearer');

  return function respondWithError(req: Request, res: Response, thrown: unknown): void {
    const err = asMcpAuthError(thrown);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const wireCode = wireCodeOf(err);
    res.status(err.status);
    if (err instanceof MissingTokenError) {
      res.setHeader('WWW-Authenticate', missing[schemeOf(req)]);
    } else if (err.bearerError !== undefined) {
      // 403: what the request needs and the token holds; 401 (a bad token): the base scope, as for
      // a missing one (MCP 2025-11-25: a client takes the scopes to ask for from the 401 challenge).
      const scope = err instanceof InsufficientScopeError ? err.scope : err.status === 401 ? baseScope : undefined;
      const scheme = err.bearerError === 'invalid_dpop_proof' || err.bearerError === 'use_dpop_nonce' ? 'DPoP' : schemeOf(req);
      const params = { error: err.bearerError, error_description: err.description, scope, resource_metadata: resourceMetadata };
      res.setHeader('WWW-Authenticate', scheme === 'DPoP'
        ? challenge({ ...params, algs }, 'DPoP')
        : challenge(params) + (err.status === 401 ? alsoDpop : ''));
    }
    appendToken(res, 'Access-Control-Expose-Headers', 'WWW-Authenticate');
    // Every 401 names the DPoP scheme (with 'allowed', after the Bearer challenge): the nonce saves
    // a client the round trip of a proof without one.
    if (nonces !== undefined && err.status === 401) sendNonce(res, nonces.current());
    if (err instanceof AuthUnavailableError) {
      // Not a CORS-safelisted response header: exposed, or a browser client cannot read when to retry.
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
      appendToken(res, 'Access-Control-Expose-Headers', 'Retry-After');
    }
    // A body still unread that is larger than the guard would ever read (or of unknown length):
    // close, so Node does not read and discard it on the client's behalf (RFC 9110 §9.6: either side may close).
    if (!req.complete && bodyMayExceed(req, c.maxBodyBytes)) res.setHeader('Connection', 'close');
    res.setHeader('Cache-Control', 'no-store');
    const data: Record<string, unknown> = { code: wireCode };
    if (err.bearerError) data.error = err.bearerError;
    data.error_description = err.description;
    if (err.status === 401 || err.status === 403) data.resource_metadata = resourceMetadata;
    if (err instanceof InsufficientScopeError && err.scope.length > 0) data.scope = err.scope.join(' ');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({
      jsonrpc: '2.0',
      id: requestId(req.body),
      error: { code: JSONRPC_CODES[wireCode], message: MESSAGES[wireCode], data },
    }));
  };
}
