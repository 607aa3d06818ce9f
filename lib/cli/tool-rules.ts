/**
 * Tool-policy resolution for the CLI: which rule of a scope map (`toolScopes` shape) applies to a
 * name. Same order as the guard's policy: an exact, own-key match; else the longest `prefix*`
 * pattern that matches; else `*`; else no rule (denied under a policy).
 *
 * Resolution is the policy's own (`compileNameMatcher`); this file only lists the rules in order
 * for display. It deliberately does not look at prompts or resources.
 */
import type { ScopeMap } from '../options.js';
import { compileNameMatcher } from '../policy/resolve.js';

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

/** The rule that applies to tool `name`, or `undefined` when none does (the tool is denied): the guard's own resolver. */
export function resolveTool(map: ScopeMap, name: string): ToolRule | undefined {
  const rule = compileNameMatcher(map)(name);
  if (!rule) return undefined;
  return { key: rule.key, kind: rule.key === '*' ? 'default' : rule.key.endsWith('*') ? 'prefix' : 'exact', scopes: rule.scopes };
}
