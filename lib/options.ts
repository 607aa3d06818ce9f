/**
 * Public options, their defaults, and validation into a frozen {@link Config}.
 *
 * Every option is checked once, when `mcpAuth()` runs; one {@link ConfigError} lists every
 * problem found (unknown keys get a "did you mean"). `undefined` counts as absent. Nothing here
 * reads `process.env`: use `fromEnv()` for that.
 */
import { ConfigError } from './errors.js';
import { closeHierarchy, isScopeToken, type ScopeHierarchy } from './policy/scopes.js';
import type { GuardEvent } from './events.js';
import { DEFAULT_SCOPE_CLAIMS } from './verify/claims.js';

/**
 * Map of names (tool names, `prefix*` patterns or `*`; URI prefixes for `resourceScopes`) to the
 * scopes required, all of them; for `scopeImplies`, of a scope to the scopes it implies.
 */
export type ScopeMap = Readonly<Record<string, readonly string[]>>;

/** Options of {@link mcpAuth}. Durations carry their unit in the name; `clockTolerance` is in seconds as in `jose`. */
export interface Options {
  /** Canonical URI of the MCP endpoint (e.g. `https://mcp.example.com/mcp`). Required. Used exactly as given: no slash is added or removed. */
  resource: string;
  /**
   * Issuer identifier of the authorization server, or of each of several trusted ones. Required:
   * `iss` is compared to it exactly, and the metadata's `authorization_servers` lists it (them).
   * With several, a JWT is checked against the keys of the issuer its `iss` names, and only
   * against those (each issuer's `jwks_uri` discovered); they need `tokenFormat: 'jwt'`, and no
   * `jwksUri` or `introspection`.
   */
  issuer: string | readonly string[];
  /** JWKS URL. Default: `jwks_uri` discovered from the issuer (RFC 8414, then OpenID Connect discovery). */
  jwksUri?: string;
  /** Accepted audience(s), compared exactly. Default: `[resource]`. */
  audience?: string | readonly string[];
  /** JWS algorithms accepted. Default: RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, Ed25519 (RFC 9864). `none` and HS* are refused. */
  algorithms?: readonly string[];
  /** Leeway for `exp`/`nbf`/`iat`, in seconds. Default 5. */
  clockTolerance?: number;
  /** Scopes every request needs. Default none. */
  requiredScopes?: readonly string[];
  /** Scopes per MCP tool (`tools/call`): exact names, `prefix*` patterns, `*`. With it, unmapped tools are denied. */
  toolScopes?: ScopeMap;
  /** Scopes per prompt (`prompts/get`), same shape as `toolScopes`. */
  promptScopes?: ScopeMap;
  /** Scopes per resource URI prefix (`resources/read`), same shape (keys are URI prefixes, `*` for the rest). */
  resourceScopes?: ScopeMap;
  /** Filter `tools/list` (and prompt/resource lists under a policy) to what the token may use. Default true when a policy is set. */
  filterLists?: boolean;
  /**
   * Bind each `Mcp-Session-Id` to the identity (issuer, subject, client) whose `initialize` answer
   * issued it; another identity presenting it, or an id not seen issued, gets 404
   * (`lib/express/sessions.ts`, `lib/policy/bindings.ts`). Default true.
   */
  bindSessions?: boolean;
  /**
   * The scope hierarchy (MCP 2026-07-28: servers must account for one): each scope → the narrower
   * scopes it implies, transitively (`{ 'notes:admin': ['notes:write'], 'notes:write': ['notes:read'] }`).
   * A token holding a scope holds what it implies, for every check: its `AuthInfo.scopes` lists
   * them too. Default none (scopes are exact).
   */
  scopeImplies?: ScopeMap;
  /**
   * The claims a token's scopes are read from, in order: the first the token carries is used, the
   * others are not read. Default: `scope`, else `scp`. E.g. `['scp', 'roles']` for Entra ID, whose
   * app-only tokens carry application permissions in `roles` and no `scp` (a delegated token keeps
   * its `scp`: the user's `roles` in it are not its client's grant). Claims that carry no
   * permission (`sub`, `aud`, `iss`, `nonce`, `preferred_username`, …) are refused.
   */
  scopeClaims?: readonly string[];
  /**
   * `scopes_supported` of the protected resource metadata. Default: the base set the 401 names
   * (`requiredScopes` and the `*` tool rule's scopes): the minimal set a client starts with, more
   * being asked for by step-up; every scope of the policy when that set is empty or
   * `challengeScope` is `'all'`.
   */
  scopesSupported?: readonly string[];
  /** `scope=` of the 401 challenge: `'base'` (required scopes and the `*` tool rule) or `'all'` (`scopesSupported`). Default `'base'`. */
  challengeScope?: 'base' | 'all';
  /** How tokens are validated. Default `'jwt'`, or `'auto'` when `introspection` is set. */
  tokenFormat?: 'jwt' | 'opaque' | 'auto';
  /** RFC 7662 introspection for opaque tokens. */
  introspection?: IntrospectionOptions;
  /**
   * DPoP (RFC 9449; MCP's DPoP extension): tokens bound to a client's key. `'off'` (default): a
   * token bound to a key (`cnf`) is refused, and the `DPoP` scheme is no credential. `'allowed'`:
   * bearer tokens as before, and tokens bound by `cnf.jkt` presented as `Authorization: DPoP`
   * with a valid `DPoP` proof on every request (README, "DPoP"). `'required'`: only those.
   * Server nonces: `dpopNonceSeconds`. Not done: mTLS-bound tokens (RFC 8705, still refused).
   * @example mcpAuth({ resource, issuer, dpop: 'allowed' })
   */
  dpop?: 'off' | 'allowed' | 'required';
  /** JWS algorithms accepted for DPoP proofs. Default {@link DEFAULT_DPOP_ALGORITHMS} (asymmetric only). */
  dpopAlgorithms?: readonly string[];
  /** How far a DPoP proof's `iat` may be from the clock, either way, in seconds. Default 300 (at most 300). */
  dpopProofWindowSeconds?: number;
  /**
   * Server nonces in DPoP proofs (RFC 9449 §9), a new one every this many seconds (10 to 3600),
   * each accepted for one to two of them: a proof made before the nonce it carries was handed out
   * cannot be. Default 0: no nonce. A proof without an accepted nonce gets 401 `use_dpop_nonce` and
   * the nonce (`DPoP-Nonce`); a good request whose nonce is no longer the current one gets the new
   * one. Needs `dpop` on (README, "DPoP").
   */
  dpopNonceSeconds?: number;
  /**
   * The key nonces are made with (at least 32 characters). Give every instance behind one load
   * balancer the same secret (and `dpopNonceSeconds`), and they accept each other's nonces.
   * Default: 32 random bytes per process. Not enumerable on `guard.config`.
   */
  dpopNonceSecret?: string;
  /** Enforce the RFC 9068 profile (`typ: at+jwt`; `sub`, `client_id`, `iat`, `jti` required). Default false. */
  strict?: boolean;
  /** Largest token accepted, in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Largest request body the guard parses itself, in bytes. Default 4 MiB (the MCP SDK's limit). */
  maxBodyBytes?: number;
  /** Longest time a verified token stays cached, in seconds (the revocation window). Default 300. */
  cacheMaxAgeSeconds?: number;
  /** Entries in the verification cache. Default 10000. */
  cacheMaxEntries?: number;
  /** How long a negative introspection answer stays cached, in seconds. Default 10, at most 30. */
  negativeCacheSeconds?: number;
  /** Timeout of discovery and JWKS requests, in seconds. Default 5. */
  httpTimeoutSeconds?: number;
  /** Minimum time between two JWKS (or discovery) fetches, successful or not, in seconds. Default 30. */
  jwksCooldownSeconds?: number;
  /** Age after which a JWKS is refreshed in the background, in seconds. Default 600. */
  jwksCacheMaxAgeSeconds?: number;
  /** How long past `jwksCacheMaxAgeSeconds` the last good keys keep serving while refreshes fail, in seconds. Default 3600. */
  jwksMaxStaleSeconds?: number;
  /** Largest JWKS or metadata document accepted, in bytes. Default 262144. */
  jwksMaxBytes?: number;
  /** Protected resource metadata: `authorization_servers`. Default: every issuer. */
  authorizationServers?: readonly string[];
  /** Protected resource metadata: `resource_name`. */
  resourceName?: string;
  /** Protected resource metadata: `resource_documentation`. */
  resourceDocumentation?: string;
  /** Receives a plain object per decision and key/introspection event. Exceptions are swallowed. */
  onEvent?: (event: GuardEvent) => void;
  /** Clock in milliseconds since the epoch (tests inject one). Default `Date.now`. */
  clock?: () => number;
}

/** RFC 7662 introspection settings. */
export interface IntrospectionOptions {
  /** Introspection endpoint. Default: the discovered `introspection_endpoint`. */
  url?: string;
  /** This resource server's client id at the authorization server. */
  clientId: string;
  /** Its secret. Required (checked by `mcpAuth()`): both client authentication methods send it. */
  clientSecret: string;
  /** Client authentication. Default `'client_secret_basic'`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Refuse active tokens whose answer has no `aud`. Default true. */
  requireAudience?: boolean;
  /** Timeout of an introspection call, in seconds. Default 3. */
  timeoutSeconds?: number;
  /**
   * Most introspection calls under way at once. A token that would start one more gets 503 at once
   * (`Retry-After: 1`), so a flood of distinct made-up tokens is not passed on to the authorization
   * server one call each. Default 128.
   */
  maxConcurrent?: number;
}

/** Validated, frozen configuration (internal). */
export interface Config {
  readonly resource: string;
  readonly resourceUrl: URL;
  readonly resourceMetadataUrl: string;
  readonly resourceMetadataPaths: readonly string[];
  /** The issuer, or the first of several. */
  readonly issuer: string;
  /** Every trusted issuer (`[issuer]` when there is one). */
  readonly issuers: readonly string[];
  readonly jwksUri: string | undefined;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly clockTolerance: number;
  readonly requiredScopes: readonly string[];
  readonly toolScopes: ScopeMap | undefined;
  readonly promptScopes: ScopeMap | undefined;
  readonly resourceScopes: ScopeMap | undefined;
  readonly filterLists: boolean;
  readonly bindSessions: boolean;
  /** `scopeImplies` closed (each scope → all it implies), `undefined` when none. */
  readonly scopeImplies: ScopeHierarchy | undefined;
  /** `scopeClaims` (default `['scope', 'scp']`). */
  readonly scopeClaims: readonly string[];
  readonly scopesSupported: readonly string[];
  /** What every request needs and a 401 names by default: `requiredScopes` ∪ the `*` tool rule's scopes. */
  readonly baseScopes: readonly string[];
  readonly challengeScope: 'base' | 'all';
  readonly tokenFormat: 'jwt' | 'opaque' | 'auto';
  readonly introspection: Readonly<Required<Omit<IntrospectionOptions, 'url' | 'clientSecret'>>> & {
    readonly url: string | undefined;
    readonly clientSecret: string | undefined;
  } | undefined;
  readonly dpop: 'off' | 'allowed' | 'required';
  readonly dpopAlgorithms: readonly string[];
  readonly dpopProofWindowSeconds: number;
  /** 0: no server nonce. */
  readonly dpopNonceSeconds: number;
  /** Not enumerable (kept out of logs). */
  readonly dpopNonceSecret: string | undefined;
  readonly strict: boolean;
  readonly maxTokenBytes: number;
  readonly maxBodyBytes: number;
  readonly cacheMaxAgeSeconds: number;
  readonly cacheMaxEntries: number;
  readonly negativeCacheSeconds: number;
  readonly httpTimeoutSeconds: number;
  readonly jwksCooldownSeconds: number;
  readonly jwksCacheMaxAgeSeconds: number;
  readonly jwksMaxStaleSeconds: number;
  readonly jwksMaxBytes: number;
  readonly authorizationServers: readonly string[];
  readonly resourceName: string | undefined;
  readonly resourceDocumentation: string | undefined;
  readonly onEvent: ((event: GuardEvent) => void) | undefined;
  readonly clock: () => number;
}

/** 1973-03-03 in milliseconds: a reading below it is taken for seconds (they stay below it until the year 5138), or a broken clock. */
const MIN_CLOCK_MS = 1e11;

/** Default algorithm allowlist: asymmetric only (`Ed25519` is RFC 9864's name for what `EdDSA` means with an Ed25519 key). */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/** Default DPoP proof algorithms (RFC 9449 §4.2: asymmetric only): {@link DEFAULT_ALGORITHMS}, the curves first (clients' usual choice). */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519',
]);

const KNOWN_KEYS: readonly string[] = [
  'resource', 'issuer', 'jwksUri', 'audience', 'algorithms', 'clockTolerance', 'requiredScopes',
  'toolScopes', 'promptScopes', 'resourceScopes', 'filterLists', 'bindSessions', 'scopeImplies', 'scopeClaims', 'scopesSupported', 'challengeScope',
  'tokenFormat', 'introspection', 'dpop', 'dpopAlgorithms', 'dpopProofWindowSeconds', 'dpopNonceSeconds', 'dpopNonceSecret', 'strict', 'maxTokenBytes', 'maxBodyBytes', 'cacheMaxAgeSeconds',
  'cacheMaxEntries', 'negativeCacheSeconds', 'httpTimeoutSeconds', 'jwksCooldownSeconds',
  'jwksCacheMaxAgeSeconds', 'jwksMaxStaleSeconds', 'jwksMaxBytes', 'authorizationServers',
  'resourceName', 'resourceDocumentation', 'onEvent', 'clock',
];
const INTROSPECTION_KEYS: readonly string[] = ['url', 'clientId', 'clientSecret', 'authMethod', 'requireAudience', 'timeoutSeconds', 'maxConcurrent'];

/** No lone UTF-16 surrogate (`String.prototype.isWellFormed`, not in every type library yet). */
function isWellFormedText(v: string): boolean {
  return !/\p{Surrogate}/u.test(v);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  let prev = Array.from({ length: bl.length + 1 }, (_, i) => i);
  for (let i = 1; i <= al.length; i++) {
    const cur = [i];
    for (let j = 1; j <= bl.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (al[i - 1] === bl[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[bl.length]!;
}

/** `"; did you mean X?"` for the closest known name, or `''`. */
export function didYouMean(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) { bestD = d; best = k; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean "${best}"?` : '';
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** True when `url` names a loopback host. */
export function isLoopback(url: URL): boolean {
  return LOOPBACK.test(url.hostname);
}

/** The rule for every URL the guard calls, configured or discovered: https:, or http: on a loopback host. */
export function isAllowedUrl(uri: string): boolean {
  let url: URL | undefined;
  try { url = new URL(uri); } catch { url = undefined; }
  return url !== undefined && (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url)));
}

/**
 * The rule for a URL discovered in the authorization server's metadata: {@link isAllowedUrl}, and
 * plain http: only for an http: (loopback) issuer, so an https: server's metadata cannot send the
 * guard to a local port in clear text.
 */
export function isAllowedDiscoveredUrl(uri: string, issuer: string): boolean {
  return isAllowedUrl(uri) && (new URL(uri).protocol === 'https:' || new URL(issuer).protocol === 'http:');
}

/**
 * The form a resource must be written in, when `value` (parsed as `url`) is not in it; else
 * `undefined`. RFC 9728 §3.3: the published resource MUST be identical to the identifier the
 * well-known path was inserted into, which is built from the parsed URL, so the string must be the
 * URL's own form (lower-case host, no default port, punycode, percent-encoding), but for the root
 * path's "/", which may be left out. Used by `mcpAuth()` and `doctor`.
 */
export function resourceNormalForm(value: string, url: URL): string | undefined {
  if (url.href === value || url.href === `${value}/`) return undefined;
  return url.pathname === '/' && !value.endsWith('/') ? url.href.slice(0, -1) : url.href;
}

/** Check an https URL (http allowed for loopback hosts); push a problem and return undefined when bad. */
function checkUrl(value: unknown, name: string, problems: string[], opts: { fragmentOk?: boolean; issuer?: boolean } = {}): URL | undefined {
  if (typeof value !== 'string' || value === '') {
    problems.push(`${name} must be a non-empty URL string`);
    return undefined;
  }
  // URL parsing quietly drops tabs and newlines, trims spaces, reads "\" as "/" and encodes
  // non-ASCII, but the string itself is what gets compared (issuer) and published (metadata): such
  // characters are refused (other normalisations, such as case or a default port, are `resource`'s
  // normal-form check's business).
  if (/[^\x21-\x7e]|\\/.test(value)) {
    problems.push(`${name} must not contain spaces, control or non-ASCII characters, or a backslash (percent-encode them; punycode for a host)`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} is not a valid URL`);
    return undefined;
  }
  if (!/^https?:\/\//.test(value)) {
    problems.push(`${name} must be written as https://… (or http://… on a loopback host)`);
    return undefined;
  }
  // Credentials are refused, also a user:password@ that URL parsing took for a port and a path
  // (a "/", "#", "?" or quote in the password): any "@" after a ":" past the "//". An "@" in a
  // path without one (…/jwk/securetoken@system…, …/@scope/mcp) is fine.
  const at = value.indexOf('@');
  if (url.username !== '' || url.password !== '' || (at !== -1 && value.slice(value.indexOf('//') + 2, at).includes(':'))) {
    problems.push(`${name} must not contain credentials (user:password@; write %40 for an "@" after a port)`);
    return undefined;
  }
  if (url.protocol === 'http:' && !isLoopback(url)) {
    problems.push(`${name} must use https: (http: is accepted for loopback hosts only)`);
    return undefined;
  }
  if (!opts.fragmentOk && (url.hash !== '' || value.includes('#'))) {
    problems.push(`${name} must not contain a fragment`);
    return undefined;
  }
  // RFC 8414 §2 (and RFC 9728 §2's authorization_servers): an issuer identifier has no query.
  if (opts.issuer && value.includes('?')) {
    problems.push(`${name} must not contain a query (an issuer identifier has none, RFC 8414 §2)`);
    return undefined;
  }
  return url;
}

function checkStringList(value: unknown, name: string, problems: string[]): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((s) => typeof s === 'string' && s !== '' && !/\s/.test(s))) {
    problems.push(`${name} must be an array of non-empty strings without spaces`);
    return undefined;
  }
  return Object.freeze([...new Set(value as string[])]);
}

/**
 * `issuer`: one issuer identifier, or a non-empty list of distinct ones, each a URL without a
 * query ({@link checkUrl}); `undefined` (with a problem) when missing or bad.
 */
function checkIssuers(value: unknown, problems: string[]): readonly string[] | undefined {
  if (value === undefined) {
    problems.push('issuer is required (the authorization server issuer identifier)');
    return undefined;
  }
  if (typeof value === 'string') return checkUrl(value, 'issuer', problems, { issuer: true }) ? Object.freeze([value]) : undefined;
  if (!Array.isArray(value) || value.length === 0) {
    problems.push('issuer must be an issuer identifier (a URL), or a non-empty array of them');
    return undefined;
  }
  let ok = true;
  const seen = new Set<string>();
  for (const [i, v] of (value as unknown[]).entries()) {
    if (!checkUrl(v, `issuer[${i}]`, problems, { issuer: true })) ok = false;
    else if (seen.has(v as string)) { problems.push(`issuer[${i}]: "${v as string}" is listed twice`); ok = false; }
    else seen.add(v as string);
  }
  return ok ? Object.freeze([...(value as string[])]) : undefined;
}

/** A list of scopes: each an RFC 6749 §3.3 scope token ({@link isScopeToken}). */
function checkScopeList(value: unknown, name: string, problems: string[]): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every(isScopeToken)) {
    problems.push(`${name} must be an array of scopes (RFC 6749: printable ASCII, no spaces, no " or \\)`);
    return undefined;
  }
  return Object.freeze([...new Set(value as string[])]);
}

function checkScopeMap(value: unknown, name: string, problems: string[]): ScopeMap | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${name} must be an object mapping names to arrays of scopes`);
    return undefined;
  }
  const out: Record<string, readonly string[]> = Object.create(null);
  for (const key of Object.keys(value)) {
    if (key === '') { problems.push(`${name} has an empty key`); continue; }
    const star = key.indexOf('*');
    if (star !== -1 && star !== key.length - 1) {
      problems.push(`${name}["${key}"]: "*" may only end a pattern`);
      continue;
    }
    const list = checkScopeList((value as Record<string, unknown>)[key], `${name}["${key}"]`, problems);
    if (list) out[key] = list;
  }
  return Object.freeze(out);
}

/**
 * Claims that carry no permission (identity, audience, times, the token's own kind, values a client
 * or user chooses): never read as scopes.
 */
const NOT_SCOPE_CLAIMS = new Set([
  'iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'azp', 'appid', 'cnf', 'typ', 'token_type', 'token_use', 'active',
  'nonce', 'auth_time', 'acr', 'amr', 'at_hash', 'c_hash', 's_hash', 'sid', 'oid', 'tid', 'idtyp', 'ver', 'uti', 'rh', 'ipaddr',
  'username', 'preferred_username', 'unique_name', 'upn', 'email', 'email_verified', 'name', 'given_name', 'family_name', 'middle_name',
  'nickname', 'phone_number', 'phone_number_verified', 'login_hint', 'locale', 'zoneinfo', 'picture', 'profile', 'website',
]);

/** `scopeClaims`: a non-empty list of claim names, none of {@link NOT_SCOPE_CLAIMS}. */
function checkScopeClaims(value: unknown, problems: string[]): readonly string[] | undefined {
  const list = checkStringList(value, 'scopeClaims', problems);
  if (list === undefined) return undefined;
  if (list.length === 0) problems.push('scopeClaims must not be empty (leave it out for the default: scope, else scp)');
  for (const name of list) if (NOT_SCOPE_CLAIMS.has(name)) problems.push(`scopeClaims: "${name}" carries no permission and cannot be read as scopes`);
  return list;
}

/** `scopeImplies`: keys are scopes themselves (compared exactly: `*` is no pattern here), values lists of scopes. */
function checkImplies(value: unknown, problems: string[]): ScopeHierarchy | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push('scopeImplies must be an object mapping scopes to arrays of the scopes they imply');
    return undefined;
  }
  const map: Record<string, readonly string[]> = Object.create(null);
  for (const key of Object.keys(value)) {
    if (!isScopeToken(key)) { problems.push(`scopeImplies: "${key}" is not a scope (RFC 6749: printable ASCII, no spaces, no " or \\)`); continue; }
    const list = checkScopeList((value as Record<string, unknown>)[key], `scopeImplies["${key}"]`, problems);
    if (list) map[key] = list;
  }
  // Implied scopes are known to a 403, which would then name offline_access; and a refresh-token
  // request must not imply access.
  refuseOfflineAccess(Object.fromEntries(Object.entries(map).map(([k, v]) => [`scopeImplies["${k}"]`, [k, ...v]])), problems);
  return closeHierarchy(map);
}

/**
 * `offline_access` asks an authorization server for a refresh token, not for access to this
 * resource (MCP 2026-07-28: a resource server should not put it in a challenge's `scope` or in
 * `scopes_supported`); every configured scope can end up in one, so none may be it.
 */
function refuseOfflineAccess(lists: Record<string, readonly string[] | undefined>, problems: string[]): void {
  for (const [name, list] of Object.entries(lists)) {
    if (list?.includes('offline_access')) problems.push(`${name}: "offline_access" asks for a refresh token, not for access to this resource; leave it to the client`);
  }
}

/** `dpopNonceSeconds`: 0 (no nonce), or whole seconds from 10 (a nonce must outlive a round trip and a retry) to 3600. */
function checkNonceSeconds(value: unknown, problems: string[]): number {
  if (value === undefined) return 0;
  if (value === 0 || (typeof value === 'number' && Number.isInteger(value) && value >= 10 && value <= 3600)) return value;
  problems.push('dpopNonceSeconds must be 0 (no nonce) or a whole number of seconds from 10 to 3600');
  return 0;
}

/** `dpopNonceSeconds` needs `dpop` on; `dpopNonceSecret` needs `dpopNonceSeconds`, and 32 characters. */
function checkDpopNonce(input: Options, c: { dpop: string; dpopNonceSeconds: number }, problems: string[]): void {
  if (c.dpopNonceSeconds > 0 && c.dpop === 'off') problems.push('dpopNonceSeconds needs dpop "allowed" or "required" (nonces go in DPoP proofs)');
  const secret = input.dpopNonceSecret;
  if (secret === undefined) return;
  if (typeof secret !== 'string' || secret.length < 32 || !isWellFormedText(secret)) {
    problems.push('dpopNonceSecret must be a string of at least 32 characters (random: `openssl rand -base64 32`)');
  } else if (c.dpopNonceSeconds === 0) {
    problems.push('dpopNonceSecret is set but dpopNonceSeconds is not (no nonce is made without it)');
  }
}

function checkNumber(
  value: unknown, name: string, def: number, problems: string[],
  { min = 0, max = Number.MAX_SAFE_INTEGER, integer = false }: { min?: number; max?: number; integer?: boolean } = {},
): number {
  if (value === undefined) return def;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    problems.push(`${name} must be a${integer ? 'n integer' : ' number'} from ${min} to ${max}`);
    return def;
  }
  return value;
}

function checkBoolean(value: unknown, name: string, def: boolean, problems: string[]): boolean {
  if (value === undefined) return def;
  if (typeof value !== 'boolean') { problems.push(`${name} must be a boolean`); return def; }
  return value;
}

/** A list of JWS algorithms from {@link DEFAULT_ALGORITHMS} (`def` when absent), not empty. */
function checkAlgorithms(value: unknown, name: string, problems: string[], def = DEFAULT_ALGORITHMS): readonly string[] {
  const algorithms = checkStringList(value, name, problems) ?? def;
  for (const alg of algorithms) {
    if (!DEFAULT_ALGORITHMS.includes(alg)) {
      problems.push(`${name}: "${alg}" is not accepted (asymmetric JWS algorithms only: ${DEFAULT_ALGORITHMS.join(', ')})`);
    }
  }
  if (algorithms.length === 0) problems.push(`${name} must not be empty`);
  return algorithms;
}

function checkEnum<T extends string>(value: unknown, name: string, allowed: readonly T[], def: T, problems: string[]): T {
  if (value === undefined) return def;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    problems.push(`${name} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return def;
  }
  return value as T;
}

function unknownKeys(obj: object, known: readonly string[], prefix: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key) && (obj as Record<string, unknown>)[key] !== undefined) {
      problems.push(`unknown option "${prefix}${key}"${didYouMean(key, known)}`);
    }
  }
}

/** The RFC 9728 metadata URL for a resource: `/.well-known/oauth-protected-resource` inserted before the path. */
export function resourceMetadataUrlFor(resource: URL): { url: string; paths: string[] } {
  const path = resource.pathname === '/' ? '' : resource.pathname;
  const root = '/.well-known/oauth-protected-resource';
  const url = `${resource.origin}${root}${path}`;
  return { url, paths: path === '' ? [root] : [root + path, root] };
}

/**
 * The scopes this server knows (a 403 repeats those the token was granted): `scopesSupported`,
 * `requiredScopes`, every scope of the policy maps and of `scopeImplies`.
 */
export function knownScopesOf(c: Config): Set<string> {
  const known = new Set([...c.scopesSupported, ...policyScopes({ '': c.requiredScopes }, c.toolScopes, c.promptScopes, c.resourceScopes)]);
  for (const [broad, narrow] of Object.entries(c.scopeImplies ?? {})) {
    known.add(broad);
    for (const s of narrow) known.add(s);
  }
  return known;
}

/** Union of every scope a policy names, in first-seen order. */
function policyScopes(...maps: (ScopeMap | undefined)[]): string[] {
  const all = new Set<string>();
  for (const map of maps) if (map) for (const k of Object.keys(map)) for (const s of map[k]!) all.add(s);
  return [...all];
}

/**
 * Validate options into a frozen {@link Config}.
 * @throws {ConfigError} naming every bad, missing or unknown option.
 */
export function resolveOptions(input: Options): Config {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object') throw new ConfigError(['options must be an object']);
  unknownKeys(input, KNOWN_KEYS, '', problems);

  const resourceUrl = input.resource === undefined
    ? (problems.push('resource is required (the canonical URI of the MCP endpoint)'), undefined)
    : checkUrl(input.resource, 'resource', problems);
  // An empty query (`…/mcp?`) too: URL.search is '' for it, but href (and the published `resource`) keeps the `?`.
  if (resourceUrl?.href.includes('?')) problems.push('resource must not contain a query string');
  else if (resourceUrl) {
    // RFC 9728 §3.3 (see resourceNormalForm): the string must be the URL's own form.
    const normal = resourceNormalForm(input.resource, resourceUrl);
    if (normal !== undefined) problems.push(`resource must be written in its normalized form: ${normal}`);
  }

  const issuers = checkIssuers(input.issuer, problems);
  const jwksUrl = input.jwksUri === undefined ? undefined : checkUrl(input.jwksUri, 'jwksUri', problems);

  let audiences: readonly string[] | undefined;
  if (input.audience !== undefined) {
    const list = typeof input.audience === 'string' ? [input.audience] : input.audience;
    audiences = checkStringList(list, 'audience', problems);
    if (audiences && audiences.length === 0) problems.push('audience must not be empty');
  }

  const algorithms = checkAlgorithms(input.algorithms, 'algorithms', problems);

  const requiredScopes = checkScopeList(input.requiredScopes, 'requiredScopes', problems) ?? [];
  const toolScopes = checkScopeMap(input.toolScopes, 'toolScopes', problems);
  const promptScopes = checkScopeMap(input.promptScopes, 'promptScopes', problems);
  const resourceScopes = checkScopeMap(input.resourceScopes, 'resourceScopes', problems);
  if (resourceScopes) {
    // Keys are URI prefixes; a trailing `*` means the same prefix, so `x://` and `x://*` would collide.
    const seen = new Map<string, string>();
    for (const key of Object.keys(resourceScopes)) {
      if (key === '*') continue;
      const prefix = key.endsWith('*') ? key.slice(0, -1) : key;
      const other = seen.get(prefix);
      if (other !== undefined) problems.push(`resourceScopes: "${other}" and "${key}" name the same URI prefix`);
      else seen.set(prefix, key);
    }
  }
  const hasPolicy = toolScopes !== undefined || promptScopes !== undefined || resourceScopes !== undefined;
  // By default the base set the 401 names: what a client needs to start (MCP 2026-07-28:
  // scopes_supported is the minimal set, more is asked for by step-up; a client given no scope=
  // asks for all of scopes_supported, and every scope of the policy would make a broad token).
  // Every scope of the policy instead when the base set is empty (a client would be given no scope
  // to ask for, and authorization servers refuse an authorization that grants none) or when
  // challengeScope is 'all' (the operator asks for every scope up front).
  const challengeScope = checkEnum(input.challengeScope, 'challengeScope', ['base', 'all'] as const, 'base', problems);
  const baseSet = Object.freeze(policyScopes({ '': requiredScopes, '*': toolScopes?.['*'] ?? [] }));
  const scopesSupported = checkScopeList(input.scopesSupported, 'scopesSupported', problems)
    ?? Object.freeze(baseSet.length > 0 && challengeScope === 'base' ? baseSet : policyScopes({ '': requiredScopes }, toolScopes, promptScopes, resourceScopes));
  // (A default scopesSupported is made of the lists checked here.)
  refuseOfflineAccess({ requiredScopes, scopesSupported: input.scopesSupported === undefined ? undefined : scopesSupported }, problems);
  for (const [name, map] of [['toolScopes', toolScopes], ['promptScopes', promptScopes], ['resourceScopes', resourceScopes]] as const) {
    if (map) refuseOfflineAccess(Object.fromEntries(Object.keys(map).map((k) => [`${name}["${k}"]`, map[k]])), problems);
  }

  let introspection: Config['introspection'];
  const intro = input.introspection;
  if (intro !== undefined) {
    if (intro === null || typeof intro !== 'object') {
      problems.push('introspection must be an object { url?, clientId, clientSecret?, authMethod? }');
    } else {
      unknownKeys(intro, INTROSPECTION_KEYS, 'introspection.', problems);
      const url = intro.url === undefined ? undefined : checkUrl(intro.url, 'introspection.url', problems);
      if (typeof intro.clientId !== 'string' || intro.clientId === '') problems.push('introspection.clientId is required');
      if (typeof intro.clientSecret !== 'string' || intro.clientSecret === '') problems.push('introspection.clientSecret is required (client_secret_basic and client_secret_post both send it)');
      // A lone UTF-16 surrogate cannot be encoded for HTTP Basic: every introspection call would fail (503) for ever.
      for (const name of ['clientId', 'clientSecret'] as const) {
        const v = intro[name];
        if (typeof v === 'string' && !isWellFormedText(v)) problems.push(`introspection.${name} is not well-formed text (a lone UTF-16 surrogate)`);
      }
      const settings = {
        url: url?.href,
        clientId: intro.clientId,
        authMethod: checkEnum(intro.authMethod, 'introspection.authMethod', ['client_secret_basic', 'client_secret_post'] as const, 'client_secret_basic', problems),
        requireAudience: checkBoolean(intro.requireAudience, 'introspection.requireAudience', true, problems),
        timeoutSeconds: checkNumber(intro.timeoutSeconds, 'introspection.timeoutSeconds', 3, problems, { min: 0.001, max: 60 }),
        maxConcurrent: checkNumber(intro.maxConcurrent, 'introspection.maxConcurrent', 128, problems, { min: 1, max: 100_000, integer: true }),
      };
      // Readable, but not enumerable: `console.log(auth.config)` and `JSON.stringify(auth.config)`
      // do not write the secret into logs.
      introspection = Object.freeze(Object.defineProperty(settings, 'clientSecret', { value: intro.clientSecret, enumerable: false }) as typeof settings & { clientSecret: string | undefined });
    }
  }
  const tokenFormat = checkEnum(input.tokenFormat, 'tokenFormat', ['jwt', 'opaque', 'auto'] as const, introspection ? 'auto' : 'jwt', problems);
  if (tokenFormat !== 'jwt' && !introspection) problems.push(`tokenFormat "${tokenFormat}" needs introspection: { clientId, clientSecret }`);
  if (issuers !== undefined && issuers.length > 1) {
    if (tokenFormat !== 'jwt' && input.tokenFormat !== undefined) problems.push(`several issuers need tokenFormat "jwt" (an opaque token does not say which authorization server to ask), not "${tokenFormat}"`);
    if (input.jwksUri !== undefined) problems.push('jwksUri cannot be set with several issuers: each issuer\'s keys are found in its own metadata (jwks_uri)');
    if (input.introspection !== undefined) problems.push('introspection cannot be set with several issuers: an opaque token does not say which authorization server to ask');
  }

  const authorizationServers = input.authorizationServers === undefined
    ? (issuers ?? [])
    : (checkStringList(input.authorizationServers, 'authorizationServers', problems) ?? []);
  if (input.authorizationServers !== undefined && authorizationServers.length === 0) problems.push('authorizationServers must not be empty');
  for (const [i, s] of authorizationServers.entries()) if (input.authorizationServers !== undefined) checkUrl(s, `authorizationServers[${i}]`, problems, { issuer: true });

  if (input.resourceName !== undefined && typeof input.resourceName !== 'string') problems.push('resourceName must be a string');
  if (input.resourceDocumentation !== undefined) checkUrl(input.resourceDocumentation, 'resourceDocumentation', problems, { fragmentOk: true });
  if (input.onEvent !== undefined && typeof input.onEvent !== 'function') problems.push('onEvent must be a function');
  if (input.clock !== undefined) {
    // Read once: a clock in seconds (or one that returns nothing) would make every token look fresh.
    let now: unknown;
    try { now = typeof input.clock === 'function' ? input.clock() : undefined; } catch { now = undefined; }
    if (typeof now !== 'number' || !Number.isFinite(now) || now < MIN_CLOCK_MS) problems.push('clock must be a function returning milliseconds since the epoch (like Date.now)');
  }

  const config = {
    resource: input.resource,
    resourceUrl: resourceUrl as URL,
    resourceMetadataUrl: '',
    resourceMetadataPaths: [] as string[],
    issuer: issuers?.[0] as string,
    issuers: issuers as readonly string[],
    jwksUri: jwksUrl?.href,
    audiences: audiences ?? Object.freeze([input.resource]),
    algorithms: Object.freeze([...algorithms]),
    clockTolerance: checkNumber(input.clockTolerance, 'clockTolerance', 5, problems, { max: 600 }),
    requiredScopes,
    toolScopes,
    promptScopes,
    resourceScopes,
    filterLists: checkBoolean(input.filterLists, 'filterLists', hasPolicy, problems),
    bindSessions: checkBoolean(input.bindSessions, 'bindSessions', true, problems),
    scopeImplies: checkImplies(input.scopeImplies, problems),
    scopeClaims: checkScopeClaims(input.scopeClaims, problems) ?? DEFAULT_SCOPE_CLAIMS,
    scopesSupported,
    baseScopes: baseSet,
    challengeScope,
    tokenFormat,
    introspection,
    dpop: checkEnum(input.dpop, 'dpop', ['off', 'allowed', 'required'] as const, 'off', problems),
    dpopAlgorithms: Object.freeze([...checkAlgorithms(input.dpopAlgorithms, 'dpopAlgorithms', problems, DEFAULT_DPOP_ALGORITHMS)]),
    dpopProofWindowSeconds: checkNumber(input.dpopProofWindowSeconds, 'dpopProofWindowSeconds', 300, problems, { min: 1, max: 300 }),
    dpopNonceSeconds: checkNonceSeconds(input.dpopNonceSeconds, problems),
    dpopNonceSecret: undefined,
    strict: checkBoolean(input.strict, 'strict', false, problems),
    maxTokenBytes: checkNumber(input.maxTokenBytes, 'maxTokenBytes', 8192, problems, { min: 16, max: 1 << 20, integer: true }),
    maxBodyBytes: checkNumber(input.maxBodyBytes, 'maxBodyBytes', 4 * 1024 * 1024, problems, { min: 1, max: 1 << 30, integer: true }),
    cacheMaxAgeSeconds: checkNumber(input.cacheMaxAgeSeconds, 'cacheMaxAgeSeconds', 300, problems, { max: 86400 }),
    cacheMaxEntries: checkNumber(input.cacheMaxEntries, 'cacheMaxEntries', 10000, problems, { min: 1, max: 10_000_000, integer: true }),
    negativeCacheSeconds: checkNumber(input.negativeCacheSeconds, 'negativeCacheSeconds', 10, problems, { max: 30 }),
    httpTimeoutSeconds: checkNumber(input.httpTimeoutSeconds, 'httpTimeoutSeconds', 5, problems, { min: 0.001, max: 60 }),
    jwksCooldownSeconds: checkNumber(input.jwksCooldownSeconds, 'jwksCooldownSeconds', 30, problems, { max: 3600 }),
    jwksCacheMaxAgeSeconds: checkNumber(input.jwksCacheMaxAgeSeconds, 'jwksCacheMaxAgeSeconds', 600, problems, { max: 86400 }),
    jwksMaxStaleSeconds: checkNumber(input.jwksMaxStaleSeconds, 'jwksMaxStaleSeconds', 3600, problems, { max: 7 * 86400 }),
    jwksMaxBytes: checkNumber(input.jwksMaxBytes, 'jwksMaxBytes', 262144, problems, { min: 256, max: 16 << 20, integer: true }),
    authorizationServers: Object.freeze([...authorizationServers]),
    resourceName: input.resourceName,
    resourceDocumentation: input.resourceDocumentation,
    onEvent: input.onEvent,
    clock: input.clock ?? Date.now,
  };

  if (config.jwksCacheMaxAgeSeconds + config.jwksMaxStaleSeconds < config.jwksCooldownSeconds) {
    // Keys dropped after maxAge + maxStale could not be fetched again before the cooldown ends: a
    // healthy JWKS endpoint would get 503 for every new token until then.
    problems.push(`jwksCacheMaxAgeSeconds + jwksMaxStaleSeconds (${config.jwksCacheMaxAgeSeconds} + ${config.jwksMaxStaleSeconds} s) must be at least jwksCooldownSeconds (${config.jwksCooldownSeconds} s)`);
  }
  checkDpopNonce(input, config, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  // Readable, but not enumerable, like introspection.clientSecret.
  Object.defineProperty(config, 'dpopNonceSecret', { value: input.dpopNonceSecret, enumerable: false });
  const meta = resourceMetadataUrlFor(config.resourceUrl);
  config.resourceMetadataUrl = meta.url;
  config.resourceMetadataPaths = Object.freeze(meta.paths) as string[];
  return Object.freeze(config);
}

/**
 * The configuration one of several trusted issuers is checked with (its discovery, its keys, its
 * `iss`): `c` itself when there is one issuer.
 */
export function configForIssuer(c: Config, issuer: string): Config {
  if (c.issuers.length === 1 && c.issuer === issuer) return c;
  // (The spread leaves out what is not enumerable: the secret is put back, still not enumerable.)
  return Object.freeze(Object.defineProperty({ ...c, issuer, issuers: Object.freeze([issuer]) }, 'dpopNonceSecret', { value: c.dpopNonceSecret, enumerable: false }));
}
