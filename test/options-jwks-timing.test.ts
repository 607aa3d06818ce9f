/**
 * Keys are dropped `jwksCacheMaxAgeSeconds + jwksMaxStaleSeconds` after they were fetched, and the
 * fetch that would replace them waits for `jwksCooldownSeconds`: a sum below the cooldown would give
 * a healthy JWKS endpoint's tokens 503 until the cooldown ends. It is a `ConfigError` naming the
 * options (in code and from `MCP_AUTH_*` alike).
 */
import { ConfigError, fromEnv, mcpAuth } from '../lib/index.js';

const BASE = { resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com' };

test('maxAge + maxStale below the cooldown: ConfigError naming the three options', () => {
  let problems: readonly string[] = [];
  try {
    mcpAuth({ ...BASE, jwksCacheMaxAgeSeconds: 10, jwksMaxStaleSeconds: 5 });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    problems = (err as ConfigError).problems;
  }
  expect(problems).toEqual([expect.stringMatching(/^jwksCacheMaxAgeSeconds \+ jwksMaxStaleSeconds \(10 \+ 5 s\) must be at least jwksCooldownSeconds \(30 s\)$/)]);
});

test('from the environment too', () => {
  const env = { MCP_AUTH_RESOURCE: BASE.resource, MCP_AUTH_ISSUER: BASE.issuer, MCP_AUTH_JWKS_CACHE_MAX_AGE_SECONDS: '10', MCP_AUTH_JWKS_MAX_STALE_SECONDS: '0' };
  expect(() => mcpAuth(fromEnv(env))).toThrow(ConfigError);
});

test('the defaults, and a sum equal to the cooldown, are accepted', async () => {
  for (const extra of [{}, { jwksCacheMaxAgeSeconds: 20, jwksMaxStaleSeconds: 10 }, { jwksCacheMaxAgeSeconds: 10, jwksMaxStaleSeconds: 0, jwksCooldownSeconds: 10 }]) {
    const guard = mcpAuth({ ...BASE, ...extra });
    await guard.close();
  }
});
