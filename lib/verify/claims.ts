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
 * The `cause` of a refusal made after the token's claims were established (an introspection
 * answer with `active: true` that failed a check): the claims, so a decision event can name the
 * issuer and client, as it does for a JWT refused after its signature verified.
 */
export class CheckedClaims {
  constructor(readonly claims: Record<string, unknown>) {}
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

/**
 * Freeze `root` and every object and array inside it (iteratively: no recursion for a hostile
 * depth). The claims come from a JSON parse of their own, so nothing else holds them.
 */
function deepFreeze<T extends object>(root: T): T {
  const stack: object[] = [root];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (Object.isFrozen(o)) continue;
    Object.freeze(o);
    for (const v of Object.values(o)) if (v !== null && typeof v === 'object') stack.push(v as object);
  }
  return root;
}

/**
 * Build a deeply frozen `AuthInfo`: one cached object serves every request with the same token,
 * so no handler may change what the next request sees (nested claims included; `resource` is a
 * fresh `URL` on each read, a `URL` being mutable). `expSeconds` must already be a validated
 * finite number.
 */
export function toAuthInfo(token: string, claims: Record<string, unknown>, expSeconds: number, resource: string): AuthInfo {
  const extra = deepFreeze({ ...claims, iss: claims.iss, sub: claims.sub, aud: claims.aud });
  return Object.freeze({
    token,
    clientId: clientIdOf(claims),
    scopes: scopesOf(claims) as string[],
    expiresAt: expSeconds,
    get resource(): URL {
      return new URL(resource);
    },
    extra,
  });
}
