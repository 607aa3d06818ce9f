/** Shared pieces of the opaque-token (introspection) tests. */
import { createHash, randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import type { Options } from '../../lib/index.js';
import type { LoopbackAS } from './loopback-as.js';

export const RESOURCE = 'http://127.0.0.1:9/mcp';
export const RS_CLIENT = { clientId: 'mcp-rs', clientSecret: 's3cret-value' };
export const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

/** A fresh opaque token (no dots: never JWS-shaped). */
export function opaqueToken(): string {
  return `op_${randomBytes(24).toString('base64url')}`;
}

/** Guard options for introspection at the loopback AS (URL configured unless `discover`). */
export function opaqueOptions(as: LoopbackAS, extra: Partial<Options> = {}, { discover = false } = {}): Options {
  const { introspection, ...rest } = extra;
  return {
    resource: RESOURCE,
    issuer: as.issuer,
    tokenFormat: 'opaque',
    ...rest,
    introspection: { ...(discover ? {} : { url: as.introspectionUrl }), ...RS_CLIENT, ...introspection },
  };
}

/** An active introspection answer for RESOURCE; claims set to `undefined` are removed. */
export function activeAnswer(as: LoopbackAS, nowSeconds: number, claims: Record<string, unknown> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    active: true,
    iss: as.issuer,
    aud: RESOURCE,
    client_id: 'client-1',
    sub: 'user-1',
    scope: 'mcp notes:read',
    token_type: 'Bearer',
    iat: nowSeconds - 10,
    exp: nowSeconds + 600,
    ...claims,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

/** Assert that nothing of the token (whole, a prefix or suffix, its SHA-256) is in a response. */
export function expectNoTokenMaterial(res: Response, token: string): void {
  const text = `${JSON.stringify(res.headers)}\n${res.text ?? ''}`;
  const digest = createHash('sha256').update(token).digest();
  for (const needle of [token, token.slice(0, 10), token.slice(-10), digest.toString('base64url'), digest.toString('hex'), digest.toString('base64')]) {
    if (text.includes(needle)) throw new Error('token material found in the response');
  }
}
