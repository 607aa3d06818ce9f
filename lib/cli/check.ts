/**
 * `mcp-oauth-guard check <token>`: validates one access token exactly as the middleware does
 * (`guard.verify()` with the `MCP_AUTH_*` configuration, then `requiredScopes`), and explains the
 * decision: the reason code, the claims that matter (issuer, audience, expiry in human terms,
 * scopes, client id), and which tools the token may call under `toolScopes`.
 *
 * Prints no token material: not the token, not a part of it, not a hash or fingerprint of it;
 * only its kind and length. On a refusal, the claims shown are decoded without verification and
 * labelled so. Route scopes (`protect({ scopes })`) are not known here and not applied.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { assertTokenGrammar } from '../bearer.js';
import { fromEnv } from '../env.js';
import { asMcpAuthError, InsufficientScopeError, wireCodeOf, type McpAuthErrorReason } from '../errors.js';
import type { GuardEvent } from '../events.js';
import { mcpAuth } from '../guard.js';
import type { Config } from '../options.js';
import { grantedScopes, missingScopes } from '../policy/scopes.js';
import type { AuthInfo } from '../types.js';
import { clientIdOf, keyBindingOf, scopesOf } from '../verify/claims.js';
import { looksLikeJws } from '../verify/jwt.js';
import { resolveTool, toolRules } from './tool-rules.js';
import { printable } from './printable.js';

type Env = Readonly<Record<string, string | undefined>>;

/** A tool rule (or a named tool) and whether the token may use it. */
export interface ToolVerdict {
  /** The rule key (`name`, `prefix*`, `*`) or, for `--tool`, the tool name asked about. */
  name: string;
  /** The rule that applies (for `--tool`), `undefined` when none does. */
  rule?: string;
  allowed: boolean;
  /** Scopes the token lacks for it. */
  missing: string[];
}

/** What `check` found. */
export interface CheckReport {
  decision: 'allow' | 'deny';
  status: number;
  code?: string;
  reason?: McpAuthErrorReason;
  description?: string;
  token: { kind: 'jwt' | 'opaque'; length: number };
  /** The claims that matter; `verified: false` when read from a refused token without verification. */
  claims?: {
    verified: boolean;
    issuer?: string;
    audience?: string[];
    expiresAt?: number;
    expires?: string;
    scopes?: string[];
    clientId?: string;
    subject?: string;
  };
  /** True when `toolScopes` is configured. */
  toolPolicy: boolean;
  /** Under `toolScopes`, for a verified token: each rule, and each `--tool` asked about. */
  tools?: { rules: ToolVerdict[]; asked: ToolVerdict[] };
  hint?: string;
  /** Key-set and introspection events seen while checking (never token material). */
  events: GuardEvent[];
}

/** "in 9 min 58 s" / "3 h 2 min ago", with the UTC time. */
export function humanExpiry(expSeconds: number, nowMs: number): string {
  const delta = Math.round(expSeconds - nowMs / 1000);
  const abs = Math.abs(delta);
  const parts: string[] = [];
  const d = Math.floor(abs / 86400);
  const h = Math.floor((abs % 86400) / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (m && !d) parts.push(`${m} min`);
  if (!d && !h) parts.push(`${s} s`);
  const when = new Date(expSeconds * 1000).toISOString().replace('.000Z', 'Z');
  return delta >= 0 ? `in ${parts.join(' ')} (${when})` : `expired ${parts.join(' ')} ago (${when})`;
}

function strings(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
  return undefined;
}

/** The scopes as the guard reads them (`scopesOf` of `verify/claims.ts`); `undefined` for a claim of the wrong type. */
function scopesIn(claims: Record<string, unknown>, scopeClaims: readonly string[]): string[] | undefined {
  try {
    return [...scopesOf(claims, scopeClaims)];
  } catch {
    return undefined;
  }
}

function claimsView(claims: Record<string, unknown>, verified: boolean, clientId: string | undefined, nowMs: number, scopeClaims: readonly string[]): NonNullable<CheckReport['claims']> {
  const view: NonNullable<CheckReport['claims']> = { verified };
  if (typeof claims.iss === 'string') view.issuer = claims.iss;
  const aud = strings(claims.aud);
  if (aud) view.audience = aud;
  if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) {
    view.expiresAt = claims.exp;
    view.expires = humanExpiry(claims.exp, nowMs);
  }
  const scopes = scopesIn(claims, scopeClaims);
  if (scopes) view.scopes = scopes;
  const cid = clientId ?? (clientIdOf(claims) || undefined);
  if (cid) view.clientId = cid;
  if (typeof claims.sub === 'string') view.subject = claims.sub;
  return view;
}

function hintFor(reason: McpAuthErrorReason, c: Config, claims: CheckReport['claims'], token: string, missing: string[]): string | undefined {
  const jwks = c.jwksUri ?? 'the discovered JWKS';
  switch (reason) {
    case 'audience_mismatch':
      return `the token's aud is ${JSON.stringify(claims?.audience ?? null)}; this guard accepts ${JSON.stringify(c.audiences)}. Request the token with resource=${c.resource} (RFC 8707), or set MCP_AUTH_AUDIENCES to the value your authorization server puts in aud`;
    case 'issuer_mismatch':
      return `the token's iss is ${JSON.stringify(claims?.issuer ?? null)}; MCP_AUTH_ISSUER is ${c.issuers.length === 1 ? `"${c.issuer}"` : `${c.issuers.map((i) => `"${i}"`).join(', ')}`} (compared exactly, trailing slash included)`;
    case 'token_expired':
      return 'get a fresh token';
    case 'token_not_yet_valid':
      return 'the token is from the future: check this machine\'s clock, or raise MCP_AUTH_CLOCK_TOLERANCE_SECONDS';
    case 'signature_invalid':
    case 'key_not_found': {
      let kid: unknown;
      try { kid = decodeProtectedHeader(token).kid; } catch { kid = undefined; }
      return `no key of ${jwks} verifies this token${typeof kid === 'string' ? ` (its kid is "${kid.slice(0, 64)}")` : ''}: is it from another authorization server or tenant?`;
    }
    case 'algorithm_not_allowed': {
      let alg: unknown;
      try { alg = decodeProtectedHeader(token).alg; } catch { alg = undefined; }
      return `the token is signed with ${JSON.stringify(alg ?? null)}; MCP_AUTH_ALGORITHMS allows ${c.algorithms.join(', ')}`;
    }
    case 'type_not_allowed': {
      let binding: ReturnType<typeof keyBindingOf> = 'none';
      try { binding = keyBindingOf(decodeJwt(token)); } catch { /* not a JWT: no claims to read */ }
      if (binding !== 'none' && c.dpop === 'off') return 'the token is bound to a key (cnf: DPoP or mTLS); for DPoP tokens (cnf.jkt) set MCP_AUTH_DPOP=allowed';
      if (binding === 'other') return 'the token is bound to a key other than by one cnf.jkt (a 43-character SHA-256 thumbprint) alone: mTLS, or a malformed cnf; that binding cannot be checked here';
      return 'the token is not an access token (an ID token?), or MCP_AUTH_STRICT requires typ at+jwt';
    }
    case 'token_not_bound':
      return 'MCP_AUTH_DPOP=required accepts DPoP-bound tokens only (cnf.jkt): this is a bearer token';
    case 'token_bound_to_key':
      return 'the token is bound to a key (DPoP, cnf.jkt): the guard accepts it only with the DPoP scheme and a proof, which check cannot make (its signature, issuer, audience and expiry passed; scopes were not checked)';
    case 'malformed_token':
    case 'unsupported_token_type':
      return c.introspection ? 'the token is neither a valid JWT nor accepted by introspection' : 'not a signed JWT; opaque tokens need introspection (MCP_AUTH_CLIENT_ID, MCP_AUTH_CLIENT_SECRET)';
    case 'claim_invalid':
      return 'a claim has the wrong type (scope/scp, exp, or a strict-mode claim)';
    case 'token_inactive':
      return 'the authorization server says the token is not active (revoked, expired, or unknown to it)';
    case 'insufficient_scope':
      return `the token lacks ${missing.join(' ')} (MCP_AUTH_REQUIRED_SCOPES)`;
    case 'jwks_unavailable':
    case 'discovery_failed':
    case 'introspection_unavailable':
    case 'introspection_rejected_credentials':
      return 'the authorization server could not be used, so nothing is known about the token: run `mcp-oauth-guard doctor`';
    default:
      return undefined;
  }
}

/**
 * Check `token` against the configuration in `env`. Resolves with the report (a refusal is a
 * report, not an error).
 * @throws {ConfigError} when the configuration is invalid.
 */
export async function runCheck(token: string, opts: { env?: Env; tools?: readonly string[] } = {}): Promise<CheckReport> {
  const events: GuardEvent[] = [];
  const guard = mcpAuth({ ...fromEnv(opts.env ?? process.env), onEvent: (e) => events.push(e) });
  const c = guard.config;
  const kind = c.tokenFormat === 'opaque' || (c.tokenFormat === 'auto' && !looksLikeJws(token)) ? 'opaque' : 'jwt';
  const report: CheckReport = { decision: 'deny', status: 401, token: { kind, length: token.length }, toolPolicy: c.toolScopes !== undefined, events };
  let info: AuthInfo | undefined;
  let err: unknown;
  try {
    // The header path's order: the size cap (401, in verify()), then the b64token grammar (400).
    if (token.length <= c.maxTokenBytes) assertTokenGrammar(token);
    info = await guard.verify(token);
  } catch (e) {
    err = e;
  } finally {
    await guard.close();
  }
  const now = Date.now();
  let missing: string[] = [];
  if (info) {
    report.claims = claimsView((info.extra ?? {}) as Record<string, unknown>, true, info.clientId || undefined, now, c.scopeClaims);
    if (info.expiresAt !== undefined && report.claims.expiresAt === undefined) {
      report.claims.expiresAt = info.expiresAt;
      report.claims.expires = humanExpiry(info.expiresAt, now);
    }
    // The scopes the token carries (those they imply, `scopeImplies`, count in the checks below).
    report.claims.scopes = [...grantedScopes(info.scopes)];
    missing = missingScopes(info.scopes, c.requiredScopes);
    if (missing.length > 0) err = new InsufficientScopeError({ reason: 'insufficient_scope', scope: c.requiredScopes });
  } else if (kind === 'jwt') {
    try {
      report.claims = claimsView(decodeJwt(token) as Record<string, unknown>, false, undefined, now, c.scopeClaims);
    } catch {
      // Not decodable: no claims to show.
    }
  }
  if (err === undefined) {
    report.decision = 'allow';
    report.status = 200;
  } else {
    const e = asMcpAuthError(err);
    report.status = e.status;
    report.code = wireCodeOf(e);
    report.reason = e.reason;
    report.description = e.description;
    report.hint = hintFor(report.reason, c, report.claims, token, missing);
  }
  if (c.toolScopes && info) {
    const held = info.scopes;
    const ok = missing.length === 0;
    const rules = toolRules(c.toolScopes).map((r): ToolVerdict => {
      const lack = missingScopes(held, r.scopes);
      return { name: r.key, allowed: ok && lack.length === 0, missing: lack };
    });
    const asked = (opts.tools ?? []).map((name): ToolVerdict => {
      const rule = resolveTool(c.toolScopes!, name);
      if (!rule) return { name, allowed: false, missing: [] };
      const lack = missingScopes(held, rule.scopes);
      return { name, rule: rule.key, allowed: ok && lack.length === 0, missing: lack };
    });
    report.tools = { rules, asked };
  }
  return report;
}

/** Human-readable report. */
export function formatCheck(r: CheckReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(10)} ${printable(v)}`);
  row('decision', r.decision);
  if (r.decision === 'deny') row('status', `${r.status} ${r.code} (${r.reason}): ${r.description}`);
  row('token', `${r.token.kind}, ${r.token.length} characters (no token material is printed)`);
  if (r.claims) {
    if (!r.claims.verified) row('claims', 'decoded WITHOUT verification (the token was refused)');
    row('issuer', r.claims.issuer ?? '(none)');
    row('audience', r.claims.audience?.join(', ') ?? '(none)');
    row('expires', r.claims.expires ?? '(no exp)');
    row('scopes', r.claims.scopes?.length ? r.claims.scopes.join(' ') : '(none)');
    row('client id', r.claims.clientId ?? '(none)');
    if (r.claims.subject !== undefined) row('subject', r.claims.subject);
  }
  if (r.hint) row('hint', r.hint);
  if (r.tools) {
    for (const t of r.tools.rules) row('tool rule', `${t.name === '*' ? '* (any other tool)' : t.name}: ${t.allowed ? 'allowed' : `denied${t.missing.length ? ` (needs ${t.missing.join(' ')})` : ''}`}`);
    for (const t of r.tools.asked) {
      row('tool', `${t.name}: ${t.allowed ? 'allowed' : 'denied'}${t.rule ? ` by rule "${t.rule}"` : ' (no rule maps it: denied by default)'}${t.missing.length ? ` (needs ${t.missing.join(' ')})` : ''}`);
    }
  } else if (r.decision === 'allow' && !r.toolPolicy) {
    row('tools', 'no tool policy (MCP_AUTH_TOOL_SCOPES unset): any tool');
  }
  for (const e of r.events) if (e.type !== 'allow' && e.type !== 'deny') row('event', JSON.stringify(e));
  return `${lines.join('\n')}\n`;
}
