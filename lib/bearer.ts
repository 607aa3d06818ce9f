/**
 * Bearer token extraction, strict RFC 6750 §2.1, framework-free.
 *
 * Accepts exactly one `Authorization: Bearer <b64token>` header (scheme case-insensitive, one or
 * more spaces, no trailing junk); with `dpop` on, `Authorization: DPoP <token>` too (RFC 9449
 * §7.1; with `'required'`, that alone). Refuses, before any decoding: two Authorization headers, a
 * token in the query string or form body (alone or beside a header), an empty or malformed token,
 * and a token over `maxTokenBytes`. Linear time: the size cap is checked before the regular
 * expression runs, and the expression has no nested quantifiers.
 *
 * Deliberately not supported: the form-body and URI-query methods (RFC 6750 §2.2, §2.3).
 */
import { InvalidRequestError, InvalidTokenError, MissingTokenError } from './errors.js';

/** What the framework layer hands over. */
export interface BearerInput {
  /** Every `Authorization` header value received (raw; Node keeps only the first in `req.headers`). */
  authorization: readonly string[];
  /** True when the query string carries `access_token`. */
  tokenInQuery: boolean;
  /** True when a form body carries `access_token`. */
  tokenInBody: boolean;
}

const BEARER = 'bearer';
const DPOP = 'dpop';

/**
 * Which schemes are credentials (the `dpop` option): `'off'`, `Bearer` alone; `'allowed'`, also
 * `DPoP` (RFC 9449 §7.1, the same token68 syntax); `'required'`, `DPoP` alone.
 */
export type DpopMode = 'off' | 'allowed' | 'required';

/** Whether an `Authorization` value uses the `DPoP` scheme (`bearerCredential`'s reading of it). */
export function isDpopScheme(value: string): boolean {
  return schemeLength(value.trim(), DPOP) !== -1;
}
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Return the one bearer token of a request, grammar included ({@link bearerCredential}, then
 * {@link assertTokenGrammar}).
 * @throws {MissingTokenError} no credentials at all (401, challenge without `error=`).
 * @throws {InvalidRequestError} malformed header, two credentials, token in query or body (400).
 * @throws {InvalidTokenError} token over the size cap (401).
 */
export function extractBearer(input: BearerInput, maxTokenBytes: number): string {
  const token = bearerCredential(input, maxTokenBytes);
  assertTokenGrammar(token);
  return token;
}

/**
 * The checks of {@link extractBearer} but the b64token grammar: the one credential of a request,
 * its scheme and its size. `protect()` checks the grammar only when the verification cache does
 * not know the token (a cached token is the very string that passed it before). `dpop`: which
 * schemes are credentials ({@link DpopMode}; {@link isDpopScheme} tells which one was used).
 */
export function bearerCredential(input: BearerInput, maxTokenBytes: number, dpop: DpopMode = 'off'): string {
  if (input.tokenInQuery) {
    throw new InvalidRequestError({ reason: 'token_in_query', description: 'Access tokens are accepted in the Authorization header only' });
  }
  if (input.tokenInBody) {
    throw new InvalidRequestError({ reason: 'token_in_body', description: 'Access tokens are accepted in the Authorization header only' });
  }
  const headers = input.authorization;
  if (headers.length === 0) throw new MissingTokenError();
  if (headers.length > 1) {
    throw new InvalidRequestError({ reason: 'multiple_tokens', description: 'More than one Authorization header' });
  }
  const value = headers[0]!.trim();
  if (value === '') throw new MissingTokenError();
  let start = schemeLength(value, BEARER);
  if (dpop !== 'off') {
    if (start !== -1 && dpop === 'required') throw new MissingTokenError({ description: 'A DPoP-bound access token is required: use the DPoP scheme' });
    if (start === -1) start = schemeLength(value, DPOP);
  }
  if (start === -1) {
    // Another scheme (Basic, DPoP when it is off, ...) is no credential here: a challenge for ours.
    if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?: |$)/.test(value.slice(0, 64))) throw new MissingTokenError();
    throw new InvalidRequestError({ reason: 'malformed_header', description: 'Malformed Authorization header' });
  }
  const tokenLength = value.length - start;
  if (tokenLength === 0) {
    throw new InvalidRequestError({ reason: 'malformed_header', description: 'Empty bearer token' });
  }
  if (tokenLength > maxTokenBytes) throw tooLarge();
  return value.slice(start);
}

/**
 * The b64token grammar of RFC 6750 §2.1 (bounded: the size cap is checked first).
 * @throws {InvalidRequestError} `malformed_header`.
 */
export function assertTokenGrammar(token: string): void {
  if (!B64TOKEN.test(token)) {
    throw new InvalidRequestError({ reason: 'malformed_header', description: 'Malformed bearer token' });
  }
}

/**
 * Length of the scheme `name` (lower case letters; any case in `value`) and the spaces after it,
 * or -1 when the value has another scheme: `/^name(?: +|$)/i` without a match array per request.
 */
function schemeLength(value: string, name: string): number {
  const n = name.length;
  if (value.length < n || (value.length > n && value.charCodeAt(n) !== 32)) return -1;
  for (let i = 0; i < n; i++) {
    // ASCII letters only: `| 0x20` folds exactly 'B' onto 'b', 'E' onto 'e', and so on.
    if ((value.charCodeAt(i) | 0x20) !== name.charCodeAt(i)) return -1;
  }
  let i = n;
  while (i < value.length && value.charCodeAt(i) === 32) i++;
  return i;
}

function tooLarge(): InvalidTokenError {
  return new InvalidTokenError({ reason: 'token_too_large', description: 'The access token is too large' });
}

/**
 * The checks of the header path for a token handed over directly (`guard.verify(token)`): a
 * non-empty string of the b64token grammar, at most `maxTokenBytes` long (checked first, so the
 * grammar test stays bounded). Every failure is the token's: 401 `invalid_token`.
 * @throws {InvalidTokenError} `malformed_token` or `token_too_large`.
 */
export function checkToken(token: unknown, maxTokenBytes: number): string {
  if (typeof token !== 'string' || token === '') {
    throw new InvalidTokenError({ reason: 'malformed_token', description: 'The access token must be a non-empty string' });
  }
  if (token.length > maxTokenBytes) throw tooLarge();
  if (!B64TOKEN.test(token)) throw new InvalidTokenError({ reason: 'malformed_token', description: 'The access token is malformed' });
  return token;
}
