import { ConfigError, ENV_VARIABLES, fromEnv, mcpAuth } from '../lib/index.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    fromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('fromEnv', () => {
  test('every variable maps to its option', () => {
    const env = {
      MCP_AUTH_RESOURCE: ' https://mcp.example.com/mcp ',
      MCP_AUTH_ISSUER: 'https://auth.example.com',
      MCP_AUTH_JWKS_URI: 'https://auth.example.com/jwks',
      MCP_AUTH_AUDIENCES: 'https://mcp.example.com/mcp, api://mcp',
      MCP_AUTH_ALGORITHMS: 'RS256,ES256',
      MCP_AUTH_CLOCK_TOLERANCE_SECONDS: '10',
      MCP_AUTH_REQUIRED_SCOPES: 'mcp  notes:read,extra',
      MCP_AUTH_TOOL_SCOPES: 'delete_note=notes:write notes:admin;*=notes:read',
      MCP_AUTH_PROMPT_SCOPES: '{"summary":["prompts:read"]}',
      MCP_AUTH_RESOURCE_SCOPES: '{"file:///":"files:read files:list"}',
      MCP_AUTH_FILTER_LISTS: 'false',
      MCP_AUTH_BIND_SESSIONS: 'no',
      MCP_AUTH_SCOPE_IMPLIES: 'notes:admin=notes:write notes:read',
      MCP_AUTH_SCOPE_CLAIMS: 'scp,roles',
      MCP_AUTH_SCOPES_SUPPORTED: 'mcp notes:read notes:write',
      MCP_AUTH_CHALLENGE_SCOPE: 'all',
      MCP_AUTH_TOKEN_FORMAT: 'auto',
      MCP_AUTH_DPOP: 'allowed',
      MCP_AUTH_DPOP_ALGORITHMS: 'ES256 EdDSA',
      MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: '60',
      MCP_AUTH_DPOP_NONCE_SECONDS: '30',
      MCP_AUTH_DPOP_NONCE_SECRET: 'a-shared-secret-of-at-least-32-characters',
      MCP_AUTH_STRICT: 'true',
      MCP_AUTH_MAX_TOKEN_BYTES: '4096',
      MCP_AUTH_MAX_BODY_BYTES: '1048576',
      MCP_AUTH_CACHE_MAX_AGE_SECONDS: '60',
      MCP_AUTH_CACHE_MAX_ENTRIES: '500',
      MCP_AUTH_NEGATIVE_CACHE_SECONDS: '5',
      MCP_AUTH_HTTP_TIMEOUT_SECONDS: '2.5',
      MCP_AUTH_JWKS_COOLDOWN_SECONDS: '15',
      MCP_AUTH_JWKS_CACHE_MAX_AGE_SECONDS: '300',
      MCP_AUTH_JWKS_MAX_STALE_SECONDS: '900',
      MCP_AUTH_JWKS_MAX_BYTES: '524288',
      MCP_AUTH_AUTHORIZATION_SERVERS: 'https://auth.example.com',
      MCP_AUTH_RESOURCE_NAME: 'Notes',
      MCP_AUTH_RESOURCE_DOCUMENTATION: 'https://docs.example.com/mcp',
      MCP_AUTH_INTROSPECTION_URL: 'https://auth.example.com/introspect',
      MCP_AUTH_CLIENT_ID: 'rs',
      MCP_AUTH_CLIENT_SECRET: 's3cret',
      MCP_AUTH_INTROSPECTION_AUTH_METHOD: 'client_secret_post',
      MCP_AUTH_INTROSPECTION_REQUIRE_AUDIENCE: 'no',
      MCP_AUTH_INTROSPECTION_TIMEOUT_SECONDS: '1',
      MCP_AUTH_INTROSPECTION_MAX_CONCURRENT: '32',
    };
    expect(Object.keys(env).sort()).toEqual([...ENV_VARIABLES].sort());
    const o = fromEnv(env);
    expect(o).toEqual({
      resource: 'https://mcp.example.com/mcp',
      issuer: 'https://auth.example.com',
      jwksUri: 'https://auth.example.com/jwks',
      audience: ['https://mcp.example.com/mcp', 'api://mcp'],
      algorithms: ['RS256', 'ES256'],
      clockTolerance: 10,
      requiredScopes: ['mcp', 'notes:read', 'extra'],
      toolScopes: { delete_note: ['notes:write', 'notes:admin'], '*': ['notes:read'] },
      promptScopes: { summary: ['prompts:read'] },
      resourceScopes: { 'file:///': ['files:read', 'files:list'] },
      filterLists: false,
      bindSessions: false,
      scopeImplies: { 'notes:admin': ['notes:write', 'notes:read'] },
      scopeClaims: ['scp', 'roles'],
      scopesSupported: ['mcp', 'notes:read', 'notes:write'],
      challengeScope: 'all',
      tokenFormat: 'auto',
      dpop: 'allowed',
      dpopAlgorithms: ['ES256', 'EdDSA'],
      dpopProofWindowSeconds: 60,
      dpopNonceSeconds: 30,
      dpopNonceSecret: 'a-shared-secret-of-at-least-32-characters',
      strict: true,
      maxTokenBytes: 4096,
      maxBodyBytes: 1048576,
      cacheMaxAgeSeconds: 60,
      cacheMaxEntries: 500,
      negativeCacheSeconds: 5,
      httpTimeoutSeconds: 2.5,
      jwksCooldownSeconds: 15,
      jwksCacheMaxAgeSeconds: 300,
      jwksMaxStaleSeconds: 900,
      jwksMaxBytes: 524288,
      authorizationServers: ['https://auth.example.com'],
      resourceName: 'Notes',
      resourceDocumentation: 'https://docs.example.com/mcp',
      introspection: { url: 'https://auth.example.com/introspect', clientId: 'rs', clientSecret: 's3cret', authMethod: 'client_secret_post', requireAudience: false, timeoutSeconds: 1, maxConcurrent: 32 },
    });
    // The result is valid options.
    const g = mcpAuth(o);
    expect(g.config.strict).toBe(true);
    void g.close();
  });

  test('unset and empty variables produce nothing; other variables are ignored', () => {
    expect(fromEnv({ MCP_AUTH_ISSUER: '', PATH: '/bin', MCP_OTHER: 'x' })).toEqual({});
  });

  test('explicit options spread after fromEnv() win', () => {
    const o = { ...fromEnv({ MCP_AUTH_RESOURCE: 'https://a.example/mcp', MCP_AUTH_ISSUER: 'https://as.example' }), issuer: 'https://other.example' };
    expect(o.issuer).toBe('https://other.example');
    expect(o.resource).toBe('https://a.example/mcp');
  });

  test('bad values throw one ConfigError naming every variable at fault', () => {
    const p = problemsOf({
      MCP_AUTH_CLOCK_TOLERANCE_SECONDS: '-1',
      MCP_AUTH_HTTP_TIMEOUT_SECONDS: 'soon',
      MCP_AUTH_MAX_TOKEN_BYTES: '1.5',
      MCP_AUTH_STRICT: 'maybe',
      MCP_AUTH_TOKEN_FORMAT: 'paseto',
      MCP_AUTH_TOOL_SCOPES: '{not json',
      MCP_AUTH_PROMPT_SCOPES: 'no-equals-sign',
      MCP_AUTH_RESOURCE_SCOPES: '{"a": 5}',
      MCP_AUTH_CHALLENGE_SCOPE: 'some',
    });
    for (const name of ['MCP_AUTH_CLOCK_TOLERANCE_SECONDS', 'MCP_AUTH_HTTP_TIMEOUT_SECONDS', 'MCP_AUTH_MAX_TOKEN_BYTES', 'MCP_AUTH_STRICT', 'MCP_AUTH_TOKEN_FORMAT', 'MCP_AUTH_TOOL_SCOPES', 'MCP_AUTH_PROMPT_SCOPES', 'MCP_AUTH_RESOURCE_SCOPES', 'MCP_AUTH_CHALLENGE_SCOPE']) {
      expect(p.some((s) => s.includes(name))).toBe(true);
    }
    expect(p).toHaveLength(9);
  });

  test('numbers are plain decimals: hex, binary, octal, exponents and signs are refused, not read as another value', () => {
    for (const value of ['0x10', '0b11', '0o7', '1e3', '+5', '5s', '1_000']) {
      const p = problemsOf({ MCP_AUTH_MAX_TOKEN_BYTES: value, MCP_AUTH_HTTP_TIMEOUT_SECONDS: value });
      expect({ value, n: p.length }).toEqual({ value, n: 2 });
    }
    expect(fromEnv({ MCP_AUTH_MAX_TOKEN_BYTES: ' 16384 ', MCP_AUTH_HTTP_TIMEOUT_SECONDS: '2.5', MCP_AUTH_CACHE_MAX_AGE_SECONDS: '0' }))
      .toMatchObject({ maxTokenBytes: 16384, httpTimeoutSeconds: 2.5, cacheMaxAgeSeconds: 0 });
  });

  test('scope maps: __proto__ is a rule like any other, in both forms (it reaches the guard as an own key)', async () => {
    for (const value of ['__proto__=admin;*=notes:read', '{"__proto__":["admin"],"*":["notes:read"]}']) {
      const opts = fromEnv({ MCP_AUTH_RESOURCE: 'https://mcp.example.com/mcp', MCP_AUTH_ISSUER: 'https://as.example.com', MCP_AUTH_TOOL_SCOPES: value });
      expect(Object.keys(opts.toolScopes!).sort()).toEqual(['*', '__proto__']);
      const g = mcpAuth({ ...opts });
      expect(Object.entries(g.config.toolScopes!).sort()).toEqual([['*', ['notes:read']], ['__proto__', ['admin']]]);
      await g.close();
    }
  });

  test('scope maps: an empty right side (tool=, an unset shell variable) is refused; JSON [] says "base scopes only"', () => {
    const p = problemsOf({ MCP_AUTH_TOOL_SCOPES: 'delete_note=;*=notes:read', MCP_AUTH_RESOURCE_SCOPES: 'notes://= ' });
    expect(p.filter((s) => s.includes('MCP_AUTH_TOOL_SCOPES'))).toHaveLength(1);
    expect(p.filter((s) => s.includes('MCP_AUTH_RESOURCE_SCOPES'))).toHaveLength(1);
    expect(fromEnv({ MCP_AUTH_TOOL_SCOPES: '{"delete_note":[],"*":["notes:read"]}' }).toolScopes).toEqual({ delete_note: [], '*': ['notes:read'] });
    // The JSON form's string values too: "$WRITE" with WRITE unset is "", not "base scopes only".
    for (const value of ['{"delete_note":"","*":"notes:read"}', '{"delete_note":" , ","*":"notes:read"}']) {
      expect(problemsOf({ MCP_AUTH_TOOL_SCOPES: value }).filter((s) => s.includes('MCP_AUTH_TOOL_SCOPES'))).toHaveLength(1);
    }
  });

  test('scope maps: a name given two rules in the tool= form is refused (the second would silently replace the first)', () => {
    const problems = problemsOf({ MCP_AUTH_TOOL_SCOPES: 'delete_note=notes:admin;list_notes=notes:read;delete_note=notes:read' });
    expect(problems).toEqual(['MCP_AUTH_TOOL_SCOPES: "delete_note" has more than one rule']);
    expect(problemsOf({ MCP_AUTH_PROMPT_SCOPES: 'a=x; a =y' })).toEqual(['MCP_AUTH_PROMPT_SCOPES: "a" has more than one rule']);
  });

  test('values never appear in problems (secrets stay out of logs)', () => {
    const p = problemsOf({ MCP_AUTH_CLIENT_SECRETS: 'hunter2-very-secret', MCP_AUTH_INTROSPECTION_TIMEOUT_SECONDS: 'hunter3' });
    expect(p.join('\n')).not.toMatch(/hunter/);
  });

  test('an unknown MCP_AUTH_* variable throws, with a did-you-mean', () => {
    const p = problemsOf({ MCP_AUTH_ISSUR: 'https://as.example', MCP_AUTH_AUDIENCE: 'x', MCP_AUTH_TOTALLY_DIFFERENT_THING: '1' });
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/MCP_AUTH_ISSUR.*did you mean "MCP_AUTH_ISSUER"/),
      expect.stringMatching(/MCP_AUTH_AUDIENCE\b.*did you mean "MCP_AUTH_AUDIENCES"/),
    ]));
    expect(p.find((s) => s.includes('MCP_AUTH_TOTALLY_DIFFERENT_THING'))).not.toMatch(/did you mean/);
  });

  test('defaults to process.env when called without an argument', () => {
    const saved = process.env.MCP_AUTH_RESOURCE_NAME;
    process.env.MCP_AUTH_RESOURCE_NAME = 'From env';
    try {
      expect(fromEnv().resourceName).toBe('From env');
    } finally {
      if (saved === undefined) delete process.env.MCP_AUTH_RESOURCE_NAME; else process.env.MCP_AUTH_RESOURCE_NAME = saved;
    }
  });
});
