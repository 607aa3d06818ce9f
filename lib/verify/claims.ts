/**
 * Verified claims (from a JWT or an introspection answer) → the MCP SDK's `AuthInfo`.
 *
 * Scopes come from `scope` (space-delimited string) or `scp` (array of strings, or a string, as
 * Entra ID sends); a claim of the wrong type is the token's fault (401), never a 500.
 * `clientId` is `client_id`, else `azp`, else `appid`, else `''`. `expiresAt` is `exp` (seconds).
 * A token bound to a key (`cnf`) is refused by both paths ({@link assertNotSenderConstrained}).
 */
import { InvalidTokenError } from '../errors.js';
import type { AuthInfo } from '../types.js';

/** Parse `scope` / `scp` into a frozen, de-duplicated list. */
export function scopesOf(claims: Record<string, unknown>): readonly string[] {
  const raw = claims.scope !== undefined ? claims.scope : claims.scp;
  let list: string[];
  if (raw === undefined || raw === null) list = [];
  else if (typeof raw === 'string') list = raw.split(' ').filter((s) => s !== '');
  else if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) list = raw.flatMap((s: string) => s.split(' ')).filter((s) => s !== '');
  else throw new InvalidTokenError({ reason: 'claim_invalid', description: 'The access token scope claim is malformed' });
  return Object.freeze([...new Set(list)]);
}

/**
 * Refuse a sender-constrained token (RFC 7800 `cnf`: DPoP's `jkt` (RFC 9449), mTLS's `x5t#S256`
 * (RFC 8705), or any other confirmation key): this guard cannot check the proof of possession, and
 * accepting it as a bearer token would let whoever holds a copy use it (RFC 9449 §7.2: a DPoP-bound
 * token received as a bearer token is rejected).
 * @throws {InvalidTokenError} `type_not_allowed`.
 */
export function assertNotSenderConstrained(claims: Record<string, unknown>): void {
  if (claims.cnf !== undefined && claims.cnf !== null) {
    throw new InvalidTokenError({ reason: 'type_not_allowed', description: 'The access token is bound to a key (cnf): only bearer tokens are accepted' });
  }
}

/** `client_id`, else `azp`, else `appid` (non-empty strings), else `''`. */
export function clientIdOf(claims: Record<string, unknown>): string {
  for (const name of ['client_id', 'azp', 'appid']) {
    const v = claims[name];
    if (typeof v === 'string' && v !== '') return v;
  }
  return '';
}

/** Build a frozen `AuthInfo`. `expSeconds` must already be a validated finite number. */
export function toAuthInfo(token: string, claims: Record<string, unknown>, expSeconds: number, resource: string): AuthInfo {
  const extra = Object.freeze({ ...claims, iss: claims.iss, sub: claims.sub, aud: claims.aud });
  return Object.freeze({
    token,
    clientId: clientIdOf(claims),
    scopes: scopesOf(claims) as string[],
    expiresAt: expSeconds,
    resource: new URL(resource),
    extra,
  });
}
