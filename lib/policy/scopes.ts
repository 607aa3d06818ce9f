/**
 * Scope arithmetic: exact set membership, no case folding, no wildcards. A hierarchy only as
 * `scopeImplies` declares it (MCP 2026-07-28: a broader scope implies narrower ones): a token's
 * implied scopes are added to its `AuthInfo.scopes` once, when it is verified
 * ({@link withImplied}), so every check after that is membership again.
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
 * `scope=` of a 403 (MCP 2025-11-25): what this request needs, plus the scopes the token was
 * granted that the server knows about, so a client that steps up does not lose what it had. Scopes
 * a granted one only implies (`scopeImplies`) are not repeated: a hierarchy decides whether a
 * token is sufficient, not what a challenge names (MCP 2026-07-28 security best practices).
 */
export function stepUpScopes(needed: readonly string[], held: readonly string[], known: ReadonlySet<string>): string[] {
  const out = new Set(needed);
  for (const s of grantedScopes(held)) if (known.has(s) || routeScopes.has(s)) out.add(s);
  return [...out];
}

/**
 * Scopes a `requireScopes()` anywhere in the process requires: known to every guard's 403 (a
 * `requireScopes()` is bound to no guard when it is made, and a 403 elsewhere must not drop them).
 */
export const routeScopes = new Set<string>();

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

/**
 * `scopeImplies` closed: each scope → every scope it implies, directly or through others (never
 * itself). Deeply frozen, on a null prototype (own keys only, `__proto__` a scope like any other).
 */
export type ScopeHierarchy = Readonly<Record<string, readonly string[]>>;

/** Close a `scopeImplies` map (cycles allowed: scopes that imply each other are equivalent). */
export function closeHierarchy(implies: Readonly<Record<string, readonly string[]>>): ScopeHierarchy {
  const out: Record<string, readonly string[]> = Object.create(null);
  for (const broad of Object.keys(implies)) {
    const seen = new Set<string>();
    const todo = [...implies[broad]!];
    while (todo.length > 0) {
      const s = todo.pop()!;
      if (s === broad || seen.has(s)) continue;
      seen.add(s);
      if (Object.prototype.hasOwnProperty.call(implies, s)) todo.push(...implies[s]!);
    }
    if (seen.size > 0) out[broad] = Object.freeze([...seen]);
  }
  return Object.freeze(out);
}

/** A list {@link withImplied} widened → the scopes it was made from (the token's own). */
const granted = new WeakMap<readonly string[], readonly string[]>();

/** The scopes a token was granted, from its `AuthInfo.scopes` (which also lists those they imply). */
export function grantedScopes(scopes: readonly string[]): readonly string[] {
  return granted.get(scopes) ?? scopes;
}

/** `held` and every scope its members imply (held ones first, in order; no duplicates). */
export function withImplied(held: readonly string[], hierarchy: ScopeHierarchy | undefined): readonly string[] {
  if (hierarchy === undefined) return held;
  let out: Set<string> | undefined;
  for (const s of held) {
    const implied = hierarchy[s];
    if (implied === undefined) continue;
    out ??= new Set(held);
    for (const i of implied) out.add(i);
  }
  if (out === undefined || out.size === held.length) return held;
  const widened = Object.freeze([...out]);
  granted.set(widened, held);
  return widened;
}
