/**
 * `fromEnv(env = process.env)`: `MCP_AUTH_*` variables → an options object for `mcpAuth()`.
 *
 * Only variables that are set (and not empty) produce options, so explicit options spread after
 * `...fromEnv()` win. A bad value, or an unknown `MCP_AUTH_*` variable (with a "did you mean"),
 * throws one {@link ConfigError} naming every variable at fault. Nothing is read at import time.
 */
import { ConfigError } from './errors.js';
import { didYouMean, type Options } from './options.js';

type Parser = (value: string, name: string, problems: string[]) => unknown;

const list: Parser = (v) => v.split(/[\s,]+/).filter((s) => s !== '');
const text: Parser = (v) => v.trim();
/** One value as a string, several (separated by commas or whitespace) as a list. */
const oneOrMore: Parser = (v) => {
  const values = v.split(/[\s,]+/).filter((s) => s !== '');
  return values.length === 1 ? values[0] : values;
};
// Plain decimals only: `Number()` alone would read 0x10 as 16, 1e3 as 1000 and +5 as 5.
const DECIMAL = /^\d+(?:\.\d+)?$/;
const seconds: Parser = (v, name, problems) => {
  const t = v.trim();
  if (!DECIMAL.test(t) || !Number.isFinite(Number(t))) {
    problems.push(`${name} must be a non-negative number of seconds, written as a decimal (e.g. 30 or 2.5)`);
    return undefined;
  }
  return Number(t);
};
const integer: Parser = (v, name, problems) => {
  const t = v.trim();
  if (!/^\d+$/.test(t)) {
    problems.push(`${name} must be a non-negative integer, written in decimal digits`);
    return undefined;
  }
  return Number(t);
};
const bool: Parser = (v, name, problems) => {
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  problems.push(`${name} must be true or false`);
  return undefined;
};
const oneOf = (allowed: readonly string[]): Parser => (v, name, problems) => {
  const t = v.trim();
  if (!allowed.includes(t)) {
    problems.push(`${name} must be one of ${allowed.join(', ')}`);
    return undefined;
  }
  return t;
};

/**
 * `{"tool":["a","b"]}` or `tool=a b;other=c`. Built on a null prototype, so `__proto__` is a rule
 * like any other. In the `tool=…` form an empty right side is refused (an unset shell variable must
 * not open a tool to every token), and so is a second rule for one name (it would silently replace
 * the first); "no extra scope" is written `{"tool":[]}`.
 */
export const scopeMap: Parser = (v, name, problems) => parseScopeMap(v, name, problems, false);

/** `scopeImplies`: the same two forms, a scope on the left (`notes:admin=notes:write notes:read`). */
const impliesMap: Parser = (v, name, problems) => parseScopeMap(v, name, problems, true);

function parseScopeMap(v: string, name: string, problems: string[], implies: boolean): Record<string, string[]> | undefined {
  const form = implies ? 'scope=implied1 implied2' : 'name=scope1 scope2';
  const t = v.trim();
  if (t.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      problems.push(`${name} is not valid JSON`);
      return undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`${name} must be a JSON object of arrays of scopes`);
      return undefined;
    }
    const out: Record<string, string[]> = Object.create(null);
    for (const [k, val] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof val === 'string') {
        // A string that names no scope (an unset shell variable) is refused; [] says "base scopes only".
        const scopes = list(val, name, problems) as string[];
        if (scopes.length === 0) problems.push(`${name}: the value of "${k}" names no scope${implies ? '' : ' (write [] for "no scope beyond the base ones")'}`);
        else out[k] = scopes;
      } else if (Array.isArray(val) && val.every((s) => typeof s === 'string')) out[k] = val as string[];
      else problems.push(`${name}: the value of "${k}" must be an array of scopes`);
    }
    return out;
  }
  const out: Record<string, string[]> = Object.create(null);
  for (const part of t.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) {
      problems.push(`${name}: "${part.trim()}" is not of the form ${form}`);
      continue;
    }
    const key = part.slice(0, eq).trim();
    if (part.includes('=', eq + 1)) {
      // `x=y=z`: is `x=y` implied by nothing, or does `x` need `y=z`? Scopes (and URIs) may hold "=".
      problems.push(`${name}: "${part.trim()}" has more than one "=" (write names or scopes that contain "=" or ";" in the JSON form)`);
      continue;
    }
    if (Object.hasOwn(out, key)) {
      // A second rule would silently replace the first (and may lower what the tool requires).
      problems.push(`${name}: "${key}" has more than one rule`);
      continue;
    }
    const scopes = list(part.slice(eq + 1), name, problems) as string[];
    if (scopes.length === 0) {
      problems.push(`${name}: "${key}=" names no scope${implies ? '' : ` (for "no scope beyond the base ones" use the JSON form {"${key}":[]})`}`);
      continue;
    }
    out[key] = scopes;
  }
  return out;
}

/** Variable → [option path, parser]. Introspection settings go under `introspection`. */
const VARIABLES: Readonly<Record<string, readonly [string, Parser]>> = {
  MCP_AUTH_RESOURCE: ['resource', text],
  MCP_AUTH_ISSUER: ['issuer', oneOrMore],
  MCP_AUTH_JWKS_URI: ['jwksUri', text],
  MCP_AUTH_AUDIENCES: ['audience', list],
  MCP_AUTH_ALGORITHMS: ['algorithms', list],
  MCP_AUTH_CLOCK_TOLERANCE_SECONDS: ['clockTolerance', seconds],
  MCP_AUTH_REQUIRED_SCOPES: ['requiredScopes', list],
  MCP_AUTH_TOOL_SCOPES: ['toolScopes', scopeMap],
  MCP_AUTH_PROMPT_SCOPES: ['promptScopes', scopeMap],
  MCP_AUTH_RESOURCE_SCOPES: ['resourceScopes', scopeMap],
  MCP_AUTH_FILTER_LISTS: ['filterLists', bool],
  MCP_AUTH_BIND_SESSIONS: ['bindSessions', bool],
  MCP_AUTH_SCOPE_IMPLIES: ['scopeImplies', impliesMap],
  MCP_AUTH_SCOPE_CLAIMS: ['scopeClaims', list],
  MCP_AUTH_SCOPES_SUPPORTED: ['scopesSupported', list],
  MCP_AUTH_CHALLENGE_SCOPE: ['challengeScope', oneOf(['base', 'all'])],
  MCP_AUTH_TOKEN_FORMAT: ['tokenFormat', oneOf(['jwt', 'opaque', 'auto'])],
  MCP_AUTH_DPOP: ['dpop', oneOf(['off', 'allowed', 'required'])],
  MCP_AUTH_DPOP_ALGORITHMS: ['dpopAlgorithms', list],
  MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: ['dpopProofWindowSeconds', seconds],
  MCP_AUTH_DPOP_NONCE_SECONDS: ['dpopNonceSeconds', integer],
  MCP_AUTH_DPOP_NONCE_SECRET: ['dpopNonceSecret', text],
  MCP_AUTH_STRICT: ['strict', bool],
  MCP_AUTH_MAX_TOKEN_BYTES: ['maxTokenBytes', integer],
  MCP_AUTH_MAX_BODY_BYTES: ['maxBodyBytes', integer],
  MCP_AUTH_CACHE_MAX_AGE_SECONDS: ['cacheMaxAgeSeconds', seconds],
  MCP_AUTH_CACHE_MAX_ENTRIES: ['cacheMaxEntries', integer],
  MCP_AUTH_NEGATIVE_CACHE_SECONDS: ['negativeCacheSeconds', seconds],
  MCP_AUTH_HTTP_TIMEOUT_SECONDS: ['httpTimeoutSeconds', seconds],
  MCP_AUTH_JWKS_COOLDOWN_SECONDS: ['jwksCooldownSeconds', seconds],
  MCP_AUTH_JWKS_CACHE_MAX_AGE_SECONDS: ['jwksCacheMaxAgeSeconds', seconds],
  MCP_AUTH_JWKS_MAX_STALE_SECONDS: ['jwksMaxStaleSeconds', seconds],
  MCP_AUTH_JWKS_MAX_BYTES: ['jwksMaxBytes', integer],
  MCP_AUTH_AUTHORIZATION_SERVERS: ['authorizationServers', list],
  MCP_AUTH_RESOURCE_NAME: ['resourceName', text],
  MCP_AUTH_RESOURCE_DOCUMENTATION: ['resourceDocumentation', text],
  MCP_AUTH_INTROSPECTION_URL: ['introspection.url', text],
  MCP_AUTH_CLIENT_ID: ['introspection.clientId', text],
  MCP_AUTH_CLIENT_SECRET: ['introspection.clientSecret', text],
  MCP_AUTH_INTROSPECTION_AUTH_METHOD: ['introspection.authMethod', oneOf(['client_secret_basic', 'client_secret_post'])],
  MCP_AUTH_INTROSPECTION_REQUIRE_AUDIENCE: ['introspection.requireAudience', bool],
  MCP_AUTH_INTROSPECTION_TIMEOUT_SECONDS: ['introspection.timeoutSeconds', seconds],
  MCP_AUTH_INTROSPECTION_MAX_CONCURRENT: ['introspection.maxConcurrent', integer],
};

/** Names of every variable `fromEnv` reads. */
export const ENV_VARIABLES: readonly string[] = Object.freeze(Object.keys(VARIABLES));

/** The variable that sets an option (`clockTolerance`, `introspection.clientId`), if there is one. */
export function variableOf(optionPath: string): string | undefined {
  for (const [name, [path]] of Object.entries(VARIABLES)) if (path === optionPath) return name;
  return undefined;
}

/**
 * Read `MCP_AUTH_*` variables into options. Unset and empty variables are ignored, so the result
 * may lack `resource` (typed as present for spreading): `mcpAuth()` reports it when still missing.
 *
 * @example const auth = mcpAuth({ ...fromEnv(), toolScopes: { '*': ['mcp'] } });
 * @throws {ConfigError} naming every bad or unknown variable.
 */
export function fromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Options {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const intro: Record<string, unknown> = {};
  for (const name of Object.keys(env)) {
    if (!name.startsWith('MCP_AUTH_')) continue;
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const entry = VARIABLES[name];
    if (!entry) {
      problems.push(`unknown environment variable ${name}${didYouMean(name, ENV_VARIABLES)}`);
      continue;
    }
    const [path, parse] = entry;
    const value = parse(raw, name, problems);
    if (value === undefined) continue;
    if (path.startsWith('introspection.')) intro[path.slice('introspection.'.length)] = value;
    else out[path] = value;
  }
  if (Object.keys(intro).length > 0) out.introspection = intro;
  if (problems.length > 0) throw new ConfigError(problems);
  return out as unknown as Options;
}
