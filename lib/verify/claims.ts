/**
 * Verified claims (from a JWT or an introspection answer) → the MCP SDK's `AuthInfo`.
 *
 * Scopes come from `scope` (space-delimited string) or `scp` (array of strings, or a string, as
 * Entra ID sends), or, with `scopeClaims`, from the first of the claims it names that the token
 * carries (e.g. `scp`, else Entra's `roles`); a claim of the wrong type is the token's fault (401),
 * never a 500.
 * `clientId` is `client_id`, else `azp`, else `appid`, else `''`. `expiresAt` is `exp` (seconds).
 * `scopes` also holds the scopes the token's scopes imply (`scopeImplies`); `extra.scope` keeps the claim as sent.
 * Other kinds of token (refresh, ID, bound to a key) are refused by both paths ({@link assertBearerAccessToken}).
 */
import { InvalidTokenError } from '../errors.js';
import { withImplied, type ScopeHierarchy } from '../policy/scopes.js';
import type { AuthInfo } from '../types.js';

/** One claim's scopes: a space-delimited string, or an array of them; none when absent or `null`. */
function scopeList(raw: unknown, name: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw === 'string') return raw.split(' ').filter((s) => s !== '');
  if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) return raw.flatMap((s: string) => s.split(' ')).filter((s) => s !== '');
  throw new InvalidTokenError({ reason: 'claim_invalid', description: `The access token ${name} claim is malformed` });
}

/** The claims scopes are read from by default: `scope`, else `scp` (Entra ID, Okta). */
export const DEFAULT_SCOPE_CLAIMS: readonly string[] = Object.freeze(['scope', 'scp']);

/**
 * The token's scopes, a frozen, de-duplicated list: from the first of `scopeClaims` (default
 * `scope`, else `scp`) that the token carries (an own claim, `null` included: then none), never
 * several together. A delegated token's grant (`scp`) is what its client may do; the user's roles
 * or permissions, which such a token may carry too, are not: merged, they would give every client
 * whatever its user may do.
 */
export function scopesOf(claims: Record<string, unknown>, scopeClaims: readonly string[] = DEFAULT_SCOPE_CLAIMS): readonly string[] {
  const name = scopeClaims.find((n) => Object.prototype.hasOwnProperty.call(claims, n) && claims[n] !== undefined);
  return Object.freeze(name === undefined ? [] : [...new Set(scopeList(claims[name], name))]);
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
 * The `token_type` values of a bearer access token (case-insensitive): `Bearer` (RFC 6750, the
 * IANA registry; what RFC 7662 §2.2 answers carry), `access_token` / `access` (seen in the wild),
 * RFC 8693's `urn:ietf:params:oauth:token-type:access_token`. Absent or `null`: no claim either way.
 */
const BEARER_TOKEN_TYPE = /^(?:bearer|access(?:_token)?|urn:ietf:params:oauth:token-type:access_token)$/i;

/**
 * Refuse what is not a bearer access token, by the marks other kinds of token carry (checked on
 * the JWT payload and on the introspection answer alike; the audience check stops most of them
 * first, these catch a server configured to give them this resource's audience):
 * - a refresh token: `token_type` or `token_use` (Ory Hydra) naming one, Keycloak's `typ`
 *   `Refresh` / `Offline`;
 * - an ID token: OpenID Connect's `at_hash`, `c_hash`, `s_hash`, Keycloak's `typ` `ID`, a
 *   `token_use` (AWS Cognito) other than `access`; another Keycloak kind (`typ` `Logout`). Not
 *   `nonce`: Keycloak before 25 and authentik put it in access tokens too;
 * - a token bound to a key (RFC 7800 `cnf`: DPoP's `jkt`, RFC 9449; mTLS's `x5t#S256`, RFC 8705;
 *   or `token_type` `DPoP`): taking it for a bearer token would let whoever holds a copy use it
 *   (RFC 9449 §7.2). With `dpop` on (`acceptDpopBinding`), a token bound by `cnf.jkt` alone is let through:
 *   the request then needs the `DPoP` scheme and a proof made with that key (`lib/verify/dpop.ts`,
 *   {@link boundKeyOf}); any other `cnf` (mTLS, or a member beside `jkt`) is still refused;
 * - any other `token_type` than a bearer access token's ({@link BEARER_TOKEN_TYPE}): `N_A` (RFC 8693
 *   §2.2.1: "not an access token"), `PoP`, `mac`, an RFC 8693 URI of another kind, … (an allow
 *   list: a type nobody here knows is refused, not taken for a bearer token).
 * @throws {InvalidTokenError} `type_not_allowed`.
 */
export function assertBearerAccessToken(claims: Record<string, unknown>, acceptDpopBinding = false): void {
  const { token_type: type, token_use: use, typ } = claims;
  for (const v of [type, use, typ]) {
    // A kind named by something else than a string (["refresh_token"], {}, 1) is no bearer access token's.
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new InvalidTokenError({ reason: 'claim_invalid', description: 'The token type claims are malformed' });
    }
  }
  if ((typeof type === 'string' && /refresh/i.test(type)) || (typeof use === 'string' && !/^access(?:_token)?$/i.test(use))
    || (typeof typ === 'string' && /^(?:refresh|offline|id|logout)$/i.test(typ))
    || claims.at_hash !== undefined || claims.c_hash !== undefined || claims.s_hash !== undefined) {
    throw new InvalidTokenError({ reason: 'type_not_allowed', description: 'The token is not an access token' });
  }
  const binding = keyBindingOf(claims);
  if (binding !== 'none') {
    if (!acceptDpopBinding) throw new InvalidTokenError({ reason: 'type_not_allowed', description: 'The access token is bound to a key (cnf): only bearer tokens are accepted' });
    if (binding === 'other') throw new InvalidTokenError({ reason: 'type_not_allowed', description: 'The access token is not bound by a DPoP key thumbprint alone (cnf.jkt)' });
  }
  if (typeof type === 'string' && !isDpopType(type) && !BEARER_TOKEN_TYPE.test(type)) {
    throw new InvalidTokenError({ reason: 'type_not_allowed', description: 'The token_type is not a bearer access token\'s' });
  }
}

/** `token_type` `DPoP` (RFC 9449 §6.2: an introspection answer's for a DPoP-bound token). */
function isDpopType(type: unknown): boolean {
  return typeof type === 'string' && type.toLowerCase() === 'dpop';
}

/**
 * How claims bind a token to a key: not at all (`'none'`), by `cnf.jkt` alone (`'jkt'`, DPoP), or
 * otherwise (`'other'`: another `cnf`, as mTLS's, or `token_type` `DPoP` without `cnf.jkt`).
 */
export function keyBindingOf(claims: Record<string, unknown>): 'none' | 'jkt' | 'other' {
  if ((claims.cnf === undefined || claims.cnf === null) && !isDpopType(claims.token_type)) return 'none';
  return jktOf(claims) !== undefined ? 'jkt' : 'other';
}

/** A SHA-256 JWK thumbprint, base64url (RFC 7638): 43 characters. */
const JKT = /^[A-Za-z0-9_-]{43}$/;

/** `cnf.jkt` when `cnf` is an object with that one member, a SHA-256 JWK thumbprint; else `undefined`. */
function jktOf(claims: Record<string, unknown>): string | undefined {
  const cnf = claims.cnf;
  if (cnf === null || typeof cnf !== 'object' || Array.isArray(cnf)) return undefined;
  const keys = Object.keys(cnf);
  const jkt = (cnf as { jkt?: unknown }).jkt;
  return keys.length === 1 && keys[0] === 'jkt' && typeof jkt === 'string' && JKT.test(jkt) ? jkt : undefined;
}

/**
 * The DPoP key thumbprint a verified token is bound to (its `cnf.jkt`), or `undefined` for a bearer
 * token. Read from `AuthInfo.extra` (deeply frozen: nothing after the check can change it).
 */
export function boundKeyOf(info: AuthInfo): string | undefined {
  const extra = info.extra;
  return extra === undefined || extra.cnf === undefined ? undefined : jktOf(extra);
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

/** What {@link toAuthInfo} takes from the configuration (`Config` has them all). */
export interface AuthInfoSettings {
  resource: string;
  scopeImplies?: ScopeHierarchy | undefined;
  scopeClaims?: readonly string[] | undefined;
}

/**
 * Build a deeply frozen `AuthInfo`: one cached object serves every request with the same token,
 * so no handler may change what the next request sees (nested claims included; `resource` is a
 * fresh `URL` on each read, a `URL` being mutable). `expSeconds` must already be a validated
 * finite number.
 */
export function toAuthInfo(token: string, claims: Record<string, unknown>, expSeconds: number, s: AuthInfoSettings): AuthInfo {
  const extra = deepFreeze({ ...claims, iss: claims.iss, sub: claims.sub, aud: claims.aud });
  const resource = s.resource;
  return Object.freeze({
    token,
    clientId: clientIdOf(claims),
    scopes: withImplied(scopesOf(claims, s.scopeClaims), s.scopeImplies) as string[],
    expiresAt: expSeconds,
    get resource(): URL {
      return new URL(resource);
    },
    extra,
  });
}
