/**
 * Tool-policy resolution for the CLI: which rule of a scope map (`toolScopes` shape) applies to a
 * name. Same order as the guard's policy: an exact, own-key match; else the longest `prefix*`
 * pattern that matches; else `*`; else no rule (denied under a policy).
 *
 * A small stand-in kept in the CLI so it does not depend on the policy engine's internals; it
 * reads only the validated map. It deliberately does not look at prompts or resources.
 */
import type { ScopeMap } from '../options.js';

/** One rule of a scope map. */
export interface ToolRule {
  /** The map key: a tool name, a `prefix*` pattern, or `*`. */
  readonly key: string;
  readonly kind: 'exact' | 'prefix' | 'default';
  /** Scopes required, all of them (empty: any valid token). */
  readonly scopes: readonly string[];
}

/** The rules of a map, in resolution order: exact names, then patterns (longest first), then `*`. */
export function toolRules(map: ScopeMap): ToolRule[] {
  const exact: ToolRule[] = [];
  const prefix: ToolRule[] = [];
  const fallback: ToolRule[] = [];
  for (const key of Object.keys(map)) {
    const scopes = map[key]!;
    if (key === '*') fallback.push({ key, kind: 'default', scopes });
    else if (key.endsWith('*')) prefix.push({ key, kind: 'prefix', scopes });
    else exact.push({ key, kind: 'exact', scopes });
  }
  exact.sort((a, b) => a.key.localeCompare(b.key));
  prefix.sort((a, b) => b.key.length - a.key.length || a.key.localeCompare(b.key));
  return [...exact, ...prefix, ...fallback];
}

/** The rule that applies to tool `name`, or `undefined` when none does (the tool is denied). */
export function resolveTool(map: ScopeMap, name: string): ToolRule | undefined {
  if (name !== '*' && !name.endsWith('*') && Object.prototype.hasOwnProperty.call(map, name)) {
    return { key: name, kind: 'exact', scopes: map[name]! };
  }
  let best: ToolRule | undefined;
  for (const key of Object.keys(map)) {
    if (key === '*' || !key.endsWith('*')) continue;
    const prefix = key.slice(0, -1);
    if (name.startsWith(prefix) && (best === undefined || key.length > best.key.length)) best = { key, kind: 'prefix', scopes: map[key]! };
  }
  if (best) return best;
  return Object.prototype.hasOwnProperty.call(map, '*') ? { key: '*', kind: 'default', scopes: map['*']! } : undefined;
}
