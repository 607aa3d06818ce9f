/**
 * `mcp-oauth-guard doctor`: reads the configuration from `MCP_AUTH_*` variables (as `fromEnv`
 * does) and checks it against the real authorization server, one result per check, each failure
 * with a fix.
 *
 * Checks, in order (ids are stable, for scripts and tests):
 * - `env`: the variables parse; `resource`: the resource URL form (no fragment or query, https
 *   except loopback, the URL's normalized form; a trailing slash is a warning); `config`: the options
 *   validate as `mcpAuth()` validates them; `audience` (a warning, only when it applies): the
 *   accepted audiences leave out the resource; `resource_metadata`: the RFC 9728 URLs clients derive.
 * - `as_metadata`: RFC 8414 metadata, then OpenID Connect discovery, reachable (and accepted by
 *   `openid-client` when the guard depends on discovery); `issuer`: its `issuer` equals the
 *   configured one exactly.
 * - `jwks`: reachable and JSON with a `keys` array (a discovered non-https URL off loopback fails, unfetched); `jwks_keys`: public keys only (no `d`, `p`,
 *   `q`, `k` …), each importable; `jwks_algorithms`: the keys' algorithms overlap the allowlist.
 * - `dpop` (with `MCP_AUTH_DPOP` on): the authorization server's `dpop_signing_alg_values_supported`
 *   shares an algorithm with `dpopAlgorithms` (a warning when it lists none).
 * - `introspection` (when configured): the endpoint answers a probe with a random dummy token
 *   with `active: false`, which proves it accepts this guard's client credentials.
 * - `scopes`: the policy's scopes are among each trusted authorization server's `scopes_supported`
 *   (a warning for a scope one does not list; an info line when one publishes none); `tool_policy`: the tool policy, with what happens to a tool
 *   no rule maps.
 *
 * Deliberately not checked: that the MCP server itself runs (it need not, for the doctor), token
 * minting (the doctor has no client credentials for it; use `check` with a real token).
 * Never prints the client secret.
 */
import { randomBytes } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import * as client from 'openid-client';
import { fromEnv, variableOf } from '../env.js';
import { AuthMisconfiguredError, ConfigError } from '../errors.js';
import { configForIssuer, DEFAULT_ALGORITHMS, isAllowedDiscoveredUrl, isLoopback, resolveOptions, resourceNormalForm, type Config, type Options, type ScopeMap } from '../options.js';
import { Discovery, NO_INTROSPECTION_ENDPOINT } from '../verify/discovery.js';
import { describeFailure, fetchJson, FetchFailure } from '../verify/http.js';
import { algFitsKey, isUsableKey, PRIVATE_MEMBERS } from '../verify/jwks.js';
import { toolRules } from './tool-rules.js';
import { printable } from './printable.js';

/** Result of one check: `info` lines report facts and never fail. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'info';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** Stable identifier of the check. */
  id: string;
  status: CheckStatus;
  message: string;
  /** What to do about it (set for `fail` and `warn`). */
  fix?: string;
}

/** The whole report; `ok` is false when any check failed (warnings do not fail). */
export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

type Env = Readonly<Record<string, string | undefined>>;


/** The `MCP_AUTH_*` variable that sets an option named in a problem, when one does. */
function variableFor(problem: string): string | undefined {
  const m = /^(?:unknown option ")?([A-Za-z.]+)/.exec(problem);
  return m ? variableOf(m[1]!) : undefined;
}

/** Describe a failed fetch and say what to do. */
function fetchProblem(err: unknown): { what: string; fix: string } {
  if (err instanceof FetchFailure) {
    switch (err.kind) {
      case 'network':
        return { what: 'unreachable (connection failed)', fix: 'check the URL, DNS, proxies and firewalls between this server and the authorization server' };
      case 'timeout':
        return { what: 'no answer in time', fix: 'check network reachability, or raise MCP_AUTH_HTTP_TIMEOUT_SECONDS' };
      case 'status':
        return { what: `answered HTTP ${err.status}`, fix: 'check the URL (the path must be the one the authorization server publishes)' };
      case 'too_large':
        return { what: 'answer too large', fix: 'check the URL, or raise the size limit (jwksMaxBytes)' };
      case 'not_json':
        return { what: 'answer is not JSON', fix: 'the URL serves something else (a login page?); use the authorization server\'s document URL' };
    }
  }
  return { what: `failed (${describeFailure(err)})`, fix: 'check the URL and the authorization server' };
}

/** RFC 8414 and OpenID Connect discovery URLs for an issuer, in the order the guard tries them. */
export function metadataUrls(issuer: string): { rfc8414: string; oidc: string } {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return {
    rfc8414: `${u.origin}/.well-known/oauth-authorization-server${path}`,
    oidc: `${u.origin}${path}/.well-known/openid-configuration`,
  };
}

/** Candidate JWS algorithms of a public JWK. */
function algorithmsOf(jwk: Record<string, unknown>): string[] {
  if (typeof jwk.alg === 'string') return [jwk.alg];
  const kty = jwk.kty;
  return typeof kty === 'string' ? DEFAULT_ALGORITHMS.filter((alg) => algFitsKey(alg, kty, jwk.crv)) : [];
}

function label(jwk: Record<string, unknown>, i: number): string {
  return typeof jwk.kid === 'string' ? `kid "${jwk.kid.slice(0, 64)}"` : `key #${i}`;
}

function checkResource(raw: string | undefined, out: DoctorCheck[]): void {
  const id = 'resource';
  if (raw === undefined || raw === '') {
    out.push({ id, status: 'fail', message: 'MCP_AUTH_RESOURCE is not set', fix: 'set MCP_AUTH_RESOURCE to the canonical URL of your MCP endpoint, e.g. https://mcp.example.com/mcp' });
    return;
  }
  const value = raw.trim();
  // A value with "@" is never printed: a password may hide behind a "#" or "?" that URL parsing
  // took for the end of the host (https://svc:2024#pw@host parses without credentials).
  const shown = value.includes('@') ? 'MCP_AUTH_RESOURCE' : value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // A value with "@" may hold a password: not printed.
    out.push({ id, status: 'fail', message: `${shown === value ? `"${value}"` : shown} is not a URL`, fix: 'use an absolute URL such as https://mcp.example.com/mcp' });
    return;
  }
  // First, so that no later message prints the password.
  if (url.username !== '' || url.password !== '') {
    out.push({ id, status: 'fail', message: 'the URL contains credentials', fix: 'remove user:password@ from MCP_AUTH_RESOURCE' });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    out.push({ id, status: 'fail', message: `scheme ${url.protocol} is not https:`, fix: 'use an https: URL' });
    return;
  }
  if (url.protocol === 'http:' && !isLoopback(url)) {
    out.push({ id, status: 'fail', message: `${shown} uses http: on a non-loopback host`, fix: 'use https: (http: is accepted for localhost / 127.0.0.1 / [::1] only)' });
    return;
  }
  if (value.includes('#')) {
    out.push({ id, status: 'fail', message: `${shown} has a fragment`, fix: shown === value ? `remove the fragment: ${value.slice(0, value.indexOf('#'))}` : 'remove the fragment' });
    return;
  }
  if (url.search !== '' || value.includes('?')) {
    out.push({ id, status: 'fail', message: `${shown} has a query string`, fix: 'remove the query string; the resource is the endpoint URL itself' });
    return;
  }
  if (value.endsWith('/') && url.pathname !== '/') {
    out.push({
      id, status: 'warn',
      message: `${shown} ends with a slash`,
      fix: `clients compare the resource as a string: make sure the audience your authorization server puts in tokens is exactly "${shown}", or drop the slash everywhere${shown === value ? ` (${value.replace(/\/+$/, '')})` : ''}`,
    });
    return;
  }
  const normalized = resourceNormalForm(value, url);
  if (normalized !== undefined) {
    out.push({ id, status: 'fail', message: `${shown} is not in normalized form${shown === value ? ` (${normalized})` : ''}`, fix: `use ${shown === value ? normalized : 'the normalized form'}: the metadata must publish the very identifier its URL was built from (RFC 9728 §3.3), and clients compare it as a string` });
    return;
  }
  out.push({ id, status: 'pass', message: `${shown} is a canonical resource URL` });
}

interface Metadata {
  url: string;
  kind: 'RFC 8414' | 'OpenID Connect';
  doc: Record<string, unknown>;
}

/** Whether `value` is a URL string equal to `url` once parsed (openid-client's issuer comparison). */
function sameUrl(value: unknown, url: string): boolean {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).href === new URL(url).href;
  } catch {
    return false;
  }
}

/** `all`: every issuer of MCP_AUTH_ISSUER (`c` is one of them), so a fix keeps the others. */
async function checkMetadata(c: Config, discovery: Discovery, out: DoctorCheck[], all: readonly string[] = c.issuers): Promise<Metadata | undefined> {
  const timeoutMs = c.httpTimeoutSeconds * 1000;
  const urls = metadataUrls(c.issuer);
  const needed = (c.jwksUri === undefined && c.tokenFormat !== 'opaque') || (c.introspection !== undefined && c.introspection.url === undefined);
  const tried: string[] = [];
  let found: Metadata | undefined;
  let otherIssuer: Metadata | undefined;
  for (const [kind, url] of [['RFC 8414', urls.rfc8414], ['OpenID Connect', urls.oidc]] as const) {
    try {
      const doc = await fetchJson(url, timeoutMs, c.jwksMaxBytes);
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new FetchFailure('not_json', 'not a JSON object');
      const candidate: Metadata = { url, kind, doc: doc as Record<string, unknown> };
      // As the guard's discovery (openid-client): an RFC 8414 document naming another issuer (as a
      // URL; a multi-tenant server answering for its default tenant) sends it to the OpenID
      // Connect address. One naming the same URL in another spelling is used, and fails below.
      if (kind === 'RFC 8414' && !sameUrl((doc as { issuer?: unknown }).issuer, c.issuer)) {
        otherIssuer = candidate;
        tried.push(`${url}: names another issuer`);
        continue;
      }
      found = candidate;
      break;
    } catch (err) {
      tried.push(`${url}: ${fetchProblem(err).what}`);
    }
  }
  found ??= otherIssuer;
  if (!found) {
    out.push({
      id: 'as_metadata',
      status: needed ? 'fail' : 'warn',
      message: `no authorization server metadata (${tried.join('; ')})`,
      fix: needed
        ? 'check MCP_AUTH_ISSUER: it must be the issuer identifier exactly as the authorization server publishes it (e.g. https://keycloak.example.com/realms/NAME), or set MCP_AUTH_JWKS_URI (and MCP_AUTH_INTROSPECTION_URL) explicitly'
        : 'not needed by the guard (MCP_AUTH_JWKS_URI / MCP_AUTH_INTROSPECTION_URL are set), but the issuer cannot be confirmed: check MCP_AUTH_ISSUER',
    });
    out.push({ id: 'issuer', status: 'skip', message: 'no metadata to compare the issuer with' });
    return undefined;
  }
  out.push({ id: 'as_metadata', status: 'pass', message: `${found.kind} metadata at ${found.url}` });
  const published = found.doc.issuer;
  if (published !== c.issuer) {
    out.push({
      id: 'issuer',
      status: 'fail',
      message: `the metadata says issuer ${JSON.stringify(published)} but MCP_AUTH_ISSUER ${all.length > 1 ? 'names' : 'is'} "${c.issuer}"`,
      fix: typeof published === 'string'
        ? `set MCP_AUTH_ISSUER=${all.length > 1 ? `"${all.map((i) => (i === c.issuer ? published : i)).join(' ')}"` : published} (exactly as shown: a trailing slash, or its absence, counts): tokens carry that value in "iss"`
        : 'the authorization server publishes no issuer: fix its configuration',
    });
    return found;
  }
  if (needed) {
    // The guard discovers through openid-client: make sure it accepts the document too.
    try {
      await discovery.get();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      out.push({
        id: 'issuer', status: 'fail',
        message: `the issuer matches, but openid-client refuses the metadata (${cause instanceof Error ? cause.message.slice(0, 200) : describeFailure(cause)})`,
        fix: 'the metadata must be served as application/json with status 200 and an "issuer" equal to MCP_AUTH_ISSUER',
      });
      return found;
    }
  }
  out.push({ id: 'issuer', status: 'pass', message: `issuer "${c.issuer}" matches the metadata` });
  return found;
}

async function checkJwks(c: Config, meta: Metadata | undefined, out: DoctorCheck[]): Promise<void> {
  if (c.tokenFormat === 'opaque') {
    out.push({ id: 'jwks', status: 'skip', message: 'MCP_AUTH_TOKEN_FORMAT=opaque: JWTs are not accepted, no JWKS needed' });
    return;
  }
  const uri = c.jwksUri ?? (typeof meta?.doc.jwks_uri === 'string' && meta.doc.jwks_uri !== '' ? meta.doc.jwks_uri : undefined);
  if (uri === undefined && meta && c.tokenFormat === 'auto') {
    out.push({ id: 'jwks', status: 'skip', message: 'the authorization server publishes no jwks_uri: with introspection configured, every token is introspected' });
    return;
  }
  if (uri === undefined) {
    out.push({
      id: 'jwks', status: 'fail',
      message: meta ? 'the authorization server metadata has no jwks_uri' : 'no JWKS URL: MCP_AUTH_JWKS_URI is unset and the metadata could not be read',
      fix: 'set MCP_AUTH_JWKS_URI to the authorization server\'s JWKS URL',
    });
    return;
  }
  if (c.jwksUri === undefined && !isAllowedDiscoveredUrl(uri, c.issuer)) {
    out.push({ id: 'jwks', status: 'fail', message: `the discovered jwks_uri ${uri} is not https: (or http: on a loopback host, for an http: loopback issuer): the guard refuses it and answers every JWT 503`, fix: 'serve the JWKS over https:, or set MCP_AUTH_JWKS_URI' });
    return;
  }
  let doc: unknown;
  try {
    doc = await fetchJson(uri, c.httpTimeoutSeconds * 1000, c.jwksMaxBytes);
  } catch (err) {
    const p = fetchProblem(err);
    out.push({ id: 'jwks', status: 'fail', message: `JWKS ${uri} ${p.what}; every JWT would be answered 503`, fix: c.jwksUri ? `${p.fix} (MCP_AUTH_JWKS_URI)` : p.fix });
    return;
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) {
    out.push({ id: 'jwks', status: 'fail', message: `${uri} is JSON but has no "keys" array`, fix: 'point MCP_AUTH_JWKS_URI at a JWK Set (RFC 7517 §5)' });
    return;
  }
  out.push({ id: 'jwks', status: 'pass', message: `${uri} serves ${keys.length} key(s)` });

  const problems: string[] = [];
  const exposed: string[] = [];
  const usable: Record<string, unknown>[] = [];
  for (const [i, k] of keys.entries()) {
    if (k === null || typeof k !== 'object' || typeof (k as { kty?: unknown }).kty !== 'string') {
      problems.push(`key #${i} has no "kty"`);
      continue;
    }
    const jwk = k as Record<string, unknown>;
    const secret = PRIVATE_MEMBERS.filter((m) => m in jwk);
    if (secret.length > 0) {
      exposed.push(`${label(jwk, i)} (${jwk.kty}) has ${secret.map((m) => `"${m}"`).join(', ')}`);
      continue;
    }
    if (jwk.use === 'enc') continue;
    const algs = algorithmsOf(jwk);
    if (algs.length === 0) {
      problems.push(`${label(jwk, i)}: no signature algorithm for kty ${String(jwk.kty)}${jwk.crv ? `/${String(jwk.crv)}` : ''}`);
      continue;
    }
    try {
      await importJWK(jwk as JWK, algs[0]);
    } catch (err) {
      problems.push(`${label(jwk, i)} cannot be imported (${describeFailure(err)})`);
      continue;
    }
    // The guard's own rule (the allowlist is checked below, as jwks_algorithms).
    if (isUsableKey(jwk, DEFAULT_ALGORITHMS)) usable.push(jwk);
    else problems.push(`${label(jwk, i)} is left out by the guard (RSA under 2048 bits or with a public exponent below 3 or even, an Ed25519 key of small order, key_ops without "verify", or an alg that does not fit the key)`);
  }
  if (exposed.length > 0) {
    out.push({
      id: 'jwks_keys', status: 'fail',
      message: `private or secret key material is published: ${exposed.join('; ')}`,
      fix: 'publish public keys only, and rotate these keys now: anyone could have copied them',
    });
  } else if (usable.length === 0) {
    out.push({ id: 'jwks_keys', status: 'fail', message: `no usable signing key${problems.length ? ` (${problems.join('; ')})` : ''}`, fix: 'the JWKS must hold the public keys that sign access tokens' });
  } else if (problems.length > 0) {
    out.push({ id: 'jwks_keys', status: 'warn', message: `${usable.length} usable public key(s); ignored: ${problems.join('; ')}`, fix: 'harmless unless tokens are signed with an ignored key' });
  } else {
    out.push({ id: 'jwks_keys', status: 'pass', message: `${usable.length} public signing key(s), all importable` });
  }
  if (usable.length === 0) {
    out.push({ id: 'jwks_algorithms', status: 'skip', message: 'no usable key' });
    return;
  }
  const offered = new Set(usable.flatMap(algorithmsOf));
  const overlap = c.algorithms.filter((a) => offered.has(a));
  if (overlap.length === 0) {
    out.push({
      id: 'jwks_algorithms', status: 'fail',
      message: `the keys sign with ${[...offered].join(', ')}; the allowlist is ${c.algorithms.join(', ')}`,
      fix: `set MCP_AUTH_ALGORITHMS to include ${[...offered].filter((a) => a !== 'none' && !a.startsWith('HS')).join(' or ')}`,
    });
  } else {
    out.push({ id: 'jwks_algorithms', status: 'pass', message: `accepted algorithms the keys support: ${overlap.join(', ')}` });
  }
}

/** Status of a failed openid-client call, when it had one. */
function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; cause?: unknown } | null;
  if (typeof e?.status === 'number') return e.status;
  if (e?.cause instanceof Response) return e.cause.status;
  return undefined;
}

async function checkIntrospection(c: Config, discovery: Discovery, out: DoctorCheck[]): Promise<void> {
  const intro = c.introspection;
  if (!intro) {
    out.push({ id: 'introspection', status: 'skip', message: 'not configured (MCP_AUTH_CLIENT_ID unset): opaque tokens are refused' });
    return;
  }
  let configuration: client.Configuration;
  try {
    // The guard's own path: a configured URL needs no metadata; a discovered one must be https:.
    configuration = await discovery.introspection();
  } catch (err) {
    if (!(err instanceof AuthMisconfiguredError)) {
      out.push({ id: 'introspection', status: 'fail', message: 'no introspection endpoint: the authorization server metadata is unavailable', fix: 'fix the metadata checks above, or set MCP_AUTH_INTROSPECTION_URL' });
    } else if (err.description === NO_INTROSPECTION_ENDPOINT) {
      out.push({ id: 'introspection', status: 'fail', message: 'the authorization server metadata has no introspection_endpoint', fix: 'set MCP_AUTH_INTROSPECTION_URL' });
    } else {
      out.push({ id: 'introspection', status: 'fail', message: 'the discovered introspection_endpoint is not https: (or http: on a loopback host, for an http: loopback issuer): the guard refuses it and answers every opaque token 500', fix: 'serve introspection over https:, or set MCP_AUTH_INTROSPECTION_URL' });
    }
    return;
  }
  const url = configuration.serverMetadata().introspection_endpoint!;
  const dummy = `mcp-oauth-guard-doctor-probe-${randomBytes(16).toString('hex')}`;
  const who = `client "${intro.clientId}" (${intro.authMethod})`;
  try {
    const answer = await client.tokenIntrospection(configuration, dummy);
    if (answer.active === false) {
      out.push({ id: 'introspection', status: 'pass', message: `${url} accepts ${who}; a dummy token is inactive` });
    } else {
      out.push({ id: 'introspection', status: 'fail', message: `${url} called a random dummy token active`, fix: 'this endpoint is not a conforming RFC 7662 introspection endpoint; check MCP_AUTH_INTROSPECTION_URL' });
    }
  } catch (err) {
    const status = statusOf(err);
    if (status === 401 || status === 403) {
      const code = (err as { error?: unknown }).error;
      out.push({
        id: 'introspection', status: 'fail',
        message: `${url} rejects ${who}: HTTP ${status}${typeof code === 'string' ? ` ${code}` : ''}; every opaque token would be answered 500`,
        fix: 'check MCP_AUTH_CLIENT_ID and MCP_AUTH_CLIENT_SECRET, the method (MCP_AUTH_INTROSPECTION_AUTH_METHOD: client_secret_basic or client_secret_post), and that this client may introspect',
      });
      return;
    }
    const cause = (err as { cause?: unknown }).cause;
    const failure = err instanceof FetchFailure ? err : cause instanceof FetchFailure ? cause : undefined;
    const p = failure ? fetchProblem(failure) : { what: status ? `answered HTTP ${status}` : `failed (${describeFailure(err)})`, fix: 'check MCP_AUTH_INTROSPECTION_URL and the authorization server' };
    out.push({ id: 'introspection', status: 'fail', message: `${url} ${p.what}; every opaque token would be answered 503`, fix: p.fix });
  }
}

function describeMap(name: string, map: ScopeMap): string {
  return toolRules(map).map((r) => `${r.kind === 'default' ? `* (${name === 'toolScopes' ? 'any other tool' : 'the rest'})` : r.key} → ${r.scopes.length ? r.scopes.join(' ') : '(any valid token)'}`).join('; ');
}

/**
 * With `dpop` on: whether the authorization server issues DPoP-bound tokens with proofs this guard
 * accepts (its `dpop_signing_alg_values_supported`, RFC 9449 §5.1, against `dpopAlgorithms`).
 */
function checkDpop(c: Config, meta: Metadata | undefined, out: DoctorCheck[]): void {
  if (c.dpop === 'off') return;
  const published = meta?.doc.dpop_signing_alg_values_supported;
  if (!Array.isArray(published)) {
    out.push({
      id: 'dpop', status: 'warn',
      message: meta === undefined ? 'no authorization server metadata to tell whether it issues DPoP-bound tokens' : 'the authorization server metadata lists no dpop_signing_alg_values_supported: it may not issue DPoP-bound tokens',
      fix: c.dpop === 'required' ? 'enable DPoP at the authorization server, or no token will be accepted (MCP_AUTH_DPOP=required)' : 'enable DPoP at the authorization server for clients to get DPoP-bound tokens; bearer tokens keep working (MCP_AUTH_DPOP=allowed)',
    });
    return;
  }
  const shared = published.filter((a): a is string => typeof a === 'string' && c.dpopAlgorithms.includes(a));
  if (shared.length === 0) {
    out.push({
      id: 'dpop', status: 'fail',
      message: `the authorization server binds tokens to keys of ${printable(published.map(String).join(', '))}, none of which MCP_AUTH_DPOP_ALGORITHMS accepts (${c.dpopAlgorithms.join(', ')})`,
      fix: `add one of the authorization server's algorithms that the guard supports (${DEFAULT_ALGORITHMS.join(', ')}) to MCP_AUTH_DPOP_ALGORITHMS, or enable one of those at the authorization server: clients sign every proof with the key their token is bound to`,
    });
    return;
  }
  out.push({ id: 'dpop', status: 'pass', message: `DPoP ${c.dpop}: proofs signed with ${shared.join(', ')} are accepted by both` });
}

/**
 * The scopes the guard requires (`requiredScopes`, the policies') against one authorization
 * server's `scopes_supported`: every trusted issuer's, since a client may get its token from any.
 */
function checkScopes(c: Config, used: ReadonlySet<string>, meta: Metadata | undefined, out: DoctorCheck[]): void {
  const supported = meta?.doc.scopes_supported;
  if (Array.isArray(supported)) {
    // A scope the server does not list may still come with a broader one it does (`scopeImplies`).
    const implied = (s: string): boolean => Object.entries(c.scopeImplies ?? {}).some(([broad, narrow]) => narrow.includes(s) && supported.includes(broad));
    const unknown = [...used].filter((s) => !supported.includes(s) && !implied(s));
    if (unknown.length > 0) {
      out.push({ id: 'scopes', status: 'warn', message: `scopes the guard requires but the authorization server does not list in scopes_supported: ${unknown.join(', ')}`, fix: 'define these scopes at the authorization server, or no client can obtain them' });
    } else {
      out.push({ id: 'scopes', status: 'pass', message: `every required scope is listed by the authorization server, or implied by a listed one (scopeImplies) (${[...used].join(', ')})` });
    }
  } else {
    out.push({ id: 'scopes', status: 'info', message: `scopes required: ${[...used].join(', ')} (the authorization server publishes no scopes_supported to compare with)` });
  }
}

/** `checks` of one issuer's, added to `out`; with several trusted issuers, each message names it. */
function pushForIssuer(out: DoctorCheck[], checks: readonly DoctorCheck[], issuer: string, several: boolean): void {
  for (const check of checks) out.push(several ? { ...check, message: `(issuer ${issuer}) ${check.message}` } : check);
}

/** The scopes the guard requires, by issuer (`metas`: each trusted issuer's metadata), then the policies. */
function checkPolicy(c: Config, metas: ReadonlyMap<string, Metadata | undefined>, out: DoctorCheck[]): void {
  const used = new Set<string>(c.requiredScopes);
  for (const map of [c.toolScopes, c.promptScopes, c.resourceScopes]) if (map) for (const k of Object.keys(map)) for (const s of map[k]!) used.add(s);
  if (used.size === 0) {
    out.push({ id: 'scopes', status: 'info', message: 'no scopes required: any valid token for this resource is accepted' });
  } else {
    for (const [issuer, meta] of metas) {
      const checks: DoctorCheck[] = [];
      checkScopes(c, used, meta, checks);
      pushForIssuer(out, checks, issuer, metas.size > 1);
    }
  }

  const base = c.requiredScopes.length ? c.requiredScopes.join(' ') : 'none';
  if (!c.toolScopes) {
    out.push({ id: 'tool_policy', status: 'info', message: `no tool policy (MCP_AUTH_TOOL_SCOPES unset): every tool may be called by a valid token holding the required scopes (${base})` });
  } else {
    const unmapped = Object.prototype.hasOwnProperty.call(c.toolScopes, '*')
      ? `A tool no other rule names needs ${c.toolScopes['*']!.length ? c.toolScopes['*']!.join(' ') : 'no extra scope'}`
      : 'A tool no rule names is denied (403 insufficient_scope, no scope= in the challenge); add "*" to allow the rest';
    out.push({ id: 'tool_policy', status: 'info', message: `rules: ${describeMap('toolScopes', c.toolScopes)}. ${unmapped}. Required for every request: ${base}. tools/list ${c.filterLists ? 'is filtered to the callable tools' : 'is not filtered'}` });
  }
  if (c.promptScopes) out.push({ id: 'prompt_policy', status: 'info', message: `rules: ${describeMap('promptScopes', c.promptScopes)}` });
  if (c.resourceScopes) out.push({ id: 'resource_policy', status: 'info', message: `rules: ${describeMap('resourceScopes', c.resourceScopes)}` });
}

/** Run every check against `env` (default `process.env`). Never throws. */
export async function runDoctor(env: Env = process.env): Promise<DoctorReport> {
  const out: DoctorCheck[] = [];
  let options: Options | undefined;
  try {
    options = fromEnv(env);
    const count = Object.keys(env).filter((k) => k.startsWith('MCP_AUTH_') && env[k] !== undefined && env[k] !== '').length;
    out.push({ id: 'env', status: 'pass', message: `read ${count} MCP_AUTH_* variable(s)` });
  } catch (err) {
    const problems = err instanceof ConfigError ? err.problems : [String(err)];
    out.push({ id: 'env', status: 'fail', message: problems.join('; '), fix: 'correct or remove the variables named (see the environment section of the README)' });
  }
  checkResource(env.MCP_AUTH_RESOURCE, out);
  let config: Config | undefined;
  if (options) {
    try {
      config = resolveOptions(options);
      out.push({ id: 'config', status: 'pass', message: `valid; issuer ${config.issuers.join(', ')}, audience ${config.audiences.join(', ')}, tokens: ${config.tokenFormat}` });
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [String(err)];
      const vars = [...new Set(problems.map(variableFor).filter((v): v is string => v !== undefined))];
      out.push({ id: 'config', status: 'fail', message: problems.join('; '), fix: vars.length ? `set or correct ${vars.join(', ')}` : 'correct the MCP_AUTH_* variables' });
    }
  }
  if (!config) {
    out.push({ id: 'network', status: 'skip', message: 'authorization server checks skipped until the configuration is valid' });
    return { ok: false, checks: out };
  }
  if (!config.audiences.includes(config.resource)) {
    out.push({
      id: 'audience', status: 'warn',
      message: `accepted audiences ${config.audiences.join(', ')} do not include the resource ${config.resource}`,
      fix: `MCP clients request tokens with resource=${config.resource} (RFC 8707) and most authorization servers put that in "aud": add it to MCP_AUTH_AUDIENCES unless your server is known to use another value`,
    });
  }
  const rootMeta = `${config.resourceUrl.origin}/.well-known/oauth-protected-resource`;
  out.push({
    id: 'resource_metadata', status: 'info',
    message: `clients will fetch ${config.resourceMetadataUrl}${config.resourceMetadataUrl !== rootMeta ? ` (then ${rootMeta})` : ''}; mount auth.metadata() so both answer`,
  });
  // Each trusted issuer's metadata, keys and scopes (introspection is the first's); with several,
  // each of those checks names its issuer.
  const metas = new Map<string, Metadata | undefined>();
  for (const issuer of config.issuers) {
    const ic = configForIssuer(config, issuer);
    const discovery = new Discovery(ic);
    const checks: DoctorCheck[] = [];
    const found = await checkMetadata(ic, discovery, checks, config.issuers);
    await checkJwks(ic, found, checks);
    checkDpop(ic, found, checks);
    metas.set(issuer, found);
    if (issuer === config.issuer) await checkIntrospection(ic, discovery, checks);
    pushForIssuer(out, checks, issuer, config.issuers.length > 1);
  }
  checkPolicy(config, metas, out);
  return { ok: !out.some((c) => c.status === 'fail'), checks: out };
}

/** Human-readable report: one line per check, then a summary. */
export function formatDoctor(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length));
  const lines = report.checks.map((c) => printable(`${c.status.toUpperCase().padEnd(4)} ${c.id.padEnd(width)}  ${c.message}${c.fix ? `  → fix: ${c.fix}` : ''}`));
  const n = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${report.ok ? 'OK' : 'FAILED'}: ${n('pass')} passed, ${n('warn')} warning(s), ${n('fail')} failed, ${n('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
