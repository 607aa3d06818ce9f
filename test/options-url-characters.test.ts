/**
 * URL options are compared (`issuer`: with `iss` and the metadata's `issuer`, exactly) and
 * published (`authorization_servers`, `resource_documentation`) as the string given, while URL
 * parsing would quietly trim spaces, drop tabs and newlines and read `\` as `/`. Such a string (an
 * issuer read from a file or a secret mount with its trailing newline) is a `ConfigError` naming the
 * option, not a guard that refuses every valid token at run time. So are introspection credentials
 * HTTP Basic could never encode (a lone UTF-16 surrogate), not a 503 on every call.
 */
import { ConfigError, mcpAuth } from '../lib/index.js';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return [];
}

const RESOURCE = 'https://mcp.example.com/mcp';

test.each([
  ['trailing newline', 'https://auth.example.com\n'],
  ['trailing space', 'https://auth.example.com '],
  ['embedded tab', 'https://auth.exa\tmple.com'],
  ['backslashes', 'https://auth.example.com\\realms\\x'],
  ['a non-ASCII host', 'https://bücher.example'],
])('issuer with %s: ConfigError naming issuer', (_label, issuer) => {
  expect(problemsOf(() => mcpAuth({ resource: RESOURCE, issuer })).some((p) => p.startsWith('issuer '))).toBe(true);
});

test.each(['jwksUri', 'resourceDocumentation'] as const)('%s with a trailing newline: ConfigError naming it', (name) => {
  const problems = problemsOf(() => mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', [name]: 'https://docs.example.com/x\n' }));
  expect(problems.some((p) => p.startsWith(`${name} `))).toBe(true);
});

test('percent-encoded and punycode forms are accepted', () => {
  expect(() => mcpAuth({ resource: RESOURCE, issuer: 'https://xn--bcher-kva.example/realms/a%20b', resourceDocumentation: 'https://docs.example.com/%E2%9C%93' })).not.toThrow();
});

test.each(['clientId', 'clientSecret'] as const)('introspection.%s with a lone UTF-16 surrogate: ConfigError naming it (HTTP Basic could never encode it)', (name) => {
  const introspection = { url: 'https://auth.example.com/introspect', clientId: 'rs', clientSecret: 's3cret', [name]: 'ab\uD800c' };
  expect(problemsOf(() => mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', tokenFormat: 'opaque', introspection })).some((p) => p.startsWith(`introspection.${name} `))).toBe(true);
  expect(() => mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', tokenFormat: 'opaque', introspection: { ...introspection, [name]: 'ok-😀-ü' } })).not.toThrow();
});
