/**
 * Scope arithmetic: exact set membership, no case folding, no wildcards, no hierarchy.
 */
import type { AuthInfo } from '../types.js';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * A scope value as RFC 6749 §3.3 defines it: printable ASCII except space, `"` and `\`. Checked on
 * configured scopes only (they travel in `scope="…"` challenges unchanged); a token's own scopes are
 * compared as they are.
 */
export function isScopeToken(s: unknown): s is string {
  return typeof s === 'string' && SCOPE_TOKEN.test(s);
}

/** The scopes of `required` not in `held`. */
export function missingScopes(held: readonly string[], required: readonly string[]): string[] {
  const missing: string[] = [];
  for (const s of required) if (!held.includes(s)) missing.push(s);
  return missing;
}

/** True when `held` has every one of `required` (no array built: the per-request check). */
export function holdsAll(held: readonly string[], required: readonly string[]): boolean {
  for (let i = 0; i < required.length; i++) if (!held.includes(required[i]!)) return false;
  return true;
}

/**
 * `scope=` of a 403 (MCP 2025-11-25): what this request needs, plus the scopes the token already
 * holds that the server knows about, so a client that steps up does not lose what it had.
 */
export function stepUpScopes(needed: readonly string[], held: readonly string[], known: ReadonlySet<string>): string[] {
  const out = new Set(needed);
  for (const s of held) if (known.has(s)) out.add(s);
  return [...out];
}

/**
 * True when `authInfo` holds every one of `scopes`: for checks inside tool handlers that depend on
 * arguments (`extra.authInfo`). A missing `authInfo` holds nothing.
 *
 * @example
 * if (!hasScopes(extra.authInfo, 'notes:admin')) throw new Error('forbidden');
 */
export function hasScopes(authInfo: Pick<AuthInfo, 'scopes'> | undefined, ...scopes: string[]): boolean {
  if (!authInfo || !Array.isArray(authInfo.scopes)) return false;
  return holdsAll(authInfo.scopes, scopes);
}
