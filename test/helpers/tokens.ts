/** Token builder: `signAccessToken(key, { aud: … }, { typ: … })`, with defaults for a valid token. */
import { SignJWT, type JWTPayload } from 'jose';
import type { TestKey } from './keys.js';

export const ISSUER_PLACEHOLDER = 'set-by-test';

export interface TokenDefaults {
  issuer: string;
  audience: string;
  nowSeconds?: () => number;
}

/** A builder bound to an issuer and audience. Claims set to `undefined` are removed. */
export function tokenBuilder(defaults: TokenDefaults) {
  const now = defaults.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  return async function signAccessToken(key: TestKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
    const t = now();
    const payload: Record<string, unknown> = {
      iss: defaults.issuer,
      aud: defaults.audience,
      sub: 'user-1',
      client_id: 'client-1',
      scope: 'mcp',
      iat: t,
      exp: t + 600,
      jti: Math.random().toString(36).slice(2),
      ...claims,
    };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    const protectedHeader = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header };
    for (const k of Object.keys(protectedHeader)) if ((protectedHeader as Record<string, unknown>)[k] === undefined) delete (protectedHeader as Record<string, unknown>)[k];
    return new SignJWT(payload as JWTPayload).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
  };
}

/** base64url of a JSON value. */
export function b64json(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** The signature part (third segment) of a compact JWS. */
export function signaturePart(token: string): string {
  return token.split('.')[2] ?? token;
}
