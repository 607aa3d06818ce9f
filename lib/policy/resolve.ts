/**
 * Rule resolution for the tool policy: a name (tool, prompt) or a resource URI → the scopes its rule
 * requires, or `undefined` when no rule maps it (denied by default).
 *
 * Compiled once from a {@link ScopeMap}; lookups do only per-name work.
 */
import type { ScopeMap } from '../options.js';

/** Resolves a name to the scopes its rule requires, or `undefined` when no rule applies. */
export type Resolver = (name: string) => readonly string[] | undefined;

/**
 * Compile the rules of a name map (`toolScopes`, `promptScopes`).
 *
 * Resolution: the exact own key; else the longest matching `prefix*` pattern; else `*`; else
 * `undefined`. Exactly one rule applies (a matched exact key does not also need the `*` scopes).
 * Keys are compared as JavaScript strings, code unit for code unit: no case folding, no Unicode
 * normalisation, no trimming, the same lookup the MCP SDK uses to dispatch. Lookups go through a
 * `Map`, so `__proto__`, `constructor` or `toString` are ordinary names.
 *
 * @example
 * const resolve = compileNameRules({ delete_note: ['notes:write'], 'note_*': ['notes:read'], '*': [] });
 * resolve('note_get');   // ['notes:read']
 * resolve('other');      // []
 */
export function compileNameRules(map: ScopeMap): Resolver {
  const match = compileNameMatcher(map);
  return function resolveName(name: string): readonly string[] | undefined {
    return match(name)?.scopes;
  };
}

/** The rule a name resolves to: its map key (a name, a `prefix*` pattern or `*`) and its scopes. */
export interface RuleMatch {
  readonly key: string;
  readonly scopes: readonly string[];
}

/** Like {@link compileNameRules}, but tells which rule applied (for diagnostics such as the CLI). */
export function compileNameMatcher(map: ScopeMap): (name: string) => RuleMatch | undefined {
  const exact = new Map<string, RuleMatch>();
  const prefixes: [string, RuleMatch][] = [];
  let star: RuleMatch | undefined;
  for (const key of Object.keys(map)) {
    const rule: RuleMatch = Object.freeze({ key, scopes: Object.freeze([...map[key]!]) });
    if (key === '*') star = rule;
    else if (key.endsWith('*')) prefixes.push([key.slice(0, -1), rule]);
    else exact.set(key, rule);
  }
  // Longest prefix first, so the first match is the most specific one.
  prefixes.sort((a, b) => b[0].length - a[0].length);
  return function matchName(name: string): RuleMatch | undefined {
    const hit = exact.get(name);
    if (hit !== undefined) return hit;
    for (const [prefix, rule] of prefixes) if (name.startsWith(prefix)) return rule;
    return star;
  };
}

/** Most resolved URIs a resource resolver remembers, and the longest it remembers: at most 1,024 URIs of at most 1,024 characters. */
const MAX_REMEMBERED_URIS = 1024;
const MAX_REMEMBERED_URI_LENGTH = 1024;

/**
 * The form in which the MCP SDK's `McpServer` looks a resource up: `new URL(uri).toString()`
 * (WHATWG: tabs and newlines removed, scheme lower-cased, an empty port dropped, dot segments
 * resolved); the URI itself when it does not parse (the SDK then finds nothing).
 */
function dispatchForm(uri: string): string {
  try {
    return new URL(uri).href;
  } catch {
    return uri;
  }
}

/** The keys of `resourceScopes` as URI prefixes (a trailing `*` dropped), longest first, and the `*` rule. */
function prefixRulesOf(map: ScopeMap): { prefixes: [string, readonly string[]][]; star: readonly string[] | undefined } {
  const prefixes: [string, readonly string[]][] = [];
  let star: readonly string[] | undefined;
  for (const key of Object.keys(map)) {
    const scopes = Object.freeze([...map[key]!]);
    if (key === '*') star = scopes;
    else prefixes.push([key.endsWith('*') ? key.slice(0, -1) : key, scopes]);
  }
  // Longest prefix first, so the first match is the most specific one.
  prefixes.sort((a, b) => b[0].length - a[0].length);
  return { prefixes, star };
}

/**
 * Compile the rules of `resourceScopes`: every key is a URI prefix (a trailing `*` is allowed and
 * means the same), the longest matching prefix wins (a key equal to the whole URI is the longest),
 * then `*`, else `undefined`. Keys are compared code unit for code unit (not parsed, normalised or
 * decoded: `notes://a` and `NOTES://a` are different keys), so write them in the exact form the MCP
 * server lists. A requested URI is resolved twice, as sent and in the form the MCP SDK dispatches
 * on ({@link dispatchForm}), and needs the scopes of both (unmapped in either: `undefined`), so no
 * spelling reaches a resource under a cheaper rule.
 */
export function compilePrefixRules(map: ScopeMap): Resolver {
  const { prefixes, star } = prefixRulesOf(map);
  function lookup(uri: string): readonly string[] | undefined {
    for (const [prefix, scopes] of prefixes) if (uri.startsWith(prefix)) return scopes;
    return star;
  }
  function resolve(uri: string): readonly string[] | undefined {
    const asSent = lookup(uri);
    const dispatched = dispatchForm(uri);
    if (dispatched === uri) return asSent;
    const asDispatched = lookup(dispatched);
    if (asSent === undefined || asDispatched === undefined) return undefined;
    return asSent === asDispatched ? asSent : Object.freeze([...new Set([...asSent, ...asDispatched])]);
  }
  // URIs repeat (the same resources read, the same lists filtered): remember the answers, bounded
  // in count (emptied when full) and in length (a long URI is resolved each time), so a URI is
  // parsed once rather than per request and no client can make the memory grow.
  const seen = new Map<string, readonly string[] | undefined>();
  return function resolvePrefix(uri: string): readonly string[] | undefined {
    if (seen.has(uri)) return seen.get(uri);
    const scopes = resolve(uri);
    if (uri.length <= MAX_REMEMBERED_URI_LENGTH) {
      if (seen.size >= MAX_REMEMBERED_URIS) seen.clear();
      seen.set(uri, scopes);
    }
    return scopes;
  };
}

/** Characters RFC 6570 §3.1 copies from a template's literal text as they are: unreserved and reserved. */
const URI_CHAR = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]/;

/**
 * A template's literal text as its expansions carry it (RFC 6570 §3.1): a pct-encoded triplet and
 * the characters of {@link URI_CHAR} copied, any other character as its UTF-8 pct-encoded bytes.
 */
function expandedLiteral(text: string): string {
  return text.replace(/%[0-9A-Fa-f]{2}|[^]/gu, (c) => (c.length === 3 || URI_CHAR.test(c) ? c : [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')));
}

/**
 * For `resources/templates/list` filtering: the rules a URI template's expansions may fall under
 * (`resourceScopes`, as {@link compilePrefixRules} reads them). Every expansion of an RFC 6570
 * template starts with its literal prefix (the text before its first `{`, pct-encoded where the
 * text is not URI characters: a space as `%20`), so it falls under the rule of that prefix (the
 * longest key it starts with, else `*`) or under a longer key that starts with the prefix (a
 * template without `{` names one URI: its own rule only). Both spellings of the prefix are looked
 * up, as sent and pct-encoded. Returns those rules' scopes (`undefined` for no rule: denied).
 * An approximation that never hides a template naming a resource the token may read, but may show
 * one that names none (`notes://{id}` cannot expand to `notes://public/a`: `{id}` encodes `/`):
 * filtering hides names, enforcement is the `resources/read` check.
 *
 * @example
 * const rules = compileTemplateRules({ 'notes://': ['notes:read'], 'notes://public/': [] });
 * rules('notes://{id}');          // [[], ['notes:read']]
 * rules('notes://private/{id}');  // [['notes:read']]
 */
export function compileTemplateRules(map: ScopeMap): (uriTemplate: string) => (readonly string[] | undefined)[] {
  const { prefixes, star } = prefixRulesOf(map);
  function rulesOf(literal: string, expression: boolean): (readonly string[] | undefined)[] {
    const rules: (readonly string[] | undefined)[] = [];
    let own: readonly string[] | undefined = star;
    for (const [prefix, scopes] of prefixes) {
      if (literal.startsWith(prefix)) { own = scopes; break; }
      // A longer key an expression may reach (without one, the template names a single URI).
      if (expression && prefix.startsWith(literal)) rules.push(scopes);
    }
    rules.push(own);
    return rules;
  }
  return function templateRules(uriTemplate: string): (readonly string[] | undefined)[] {
    const brace = uriTemplate.indexOf('{');
    const literal = brace === -1 ? uriTemplate : uriTemplate.slice(0, brace);
    const encoded = expandedLiteral(literal);
    const rules = rulesOf(literal, brace !== -1);
    return encoded === literal ? rules : [...rules, ...rulesOf(encoded, brace !== -1)];
  };
}
