import { ConfigError, DEFAULT_ALGORITHMS, mcpAuth, type GuardEvent, type IntrospectionOptions, type Options } from '../lib/index.js';
import { resolveOptions } from '../lib/options.js';

const BASE = { resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com' };

function problemsOf(options: unknown): readonly string[] {
  try {
    resolveOptions(options as Options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveOptions: defaults', () => {
  test('the minimal options give the documented defaults', () => {
    const c = resolveOptions(BASE);
    expect(c).toMatchObject({
      resource: BASE.resource,
      issuer: BASE.issuer,
      jwksUri: undefined,
      audiences: [BASE.resource],
      algorithms: DEFAULT_ALGORITHMS,
      clockTolerance: 5,
      requiredScopes: [],
      scopesSupported: [],
      challengeScope: 'base',
      tokenFormat: 'jwt',
      strict: false,
      maxTokenBytes: 8192,
      maxBodyBytes: 4 * 1024 * 1024,
      cacheMaxAgeSeconds: 300,
      cacheMaxEntries: 10000,
      negativeCacheSeconds: 10,
      httpTimeoutSeconds: 5,
      jwksCooldownSeconds: 30,
      jwksCacheMaxAgeSeconds: 600,
      jwksMaxStaleSeconds: 3600,
      jwksMaxBytes: 262144,
      authorizationServers: [BASE.issuer],
      filterLists: false,
      resourceMetadataUrl: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
      resourceMetadataPaths: ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'],
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(DEFAULT_ALGORITHMS).not.toContain('none');
    expect(DEFAULT_ALGORITHMS.some((a) => a.startsWith('HS'))).toBe(false);
  });

  test('resource kept exactly: no trailing slash added or removed; root resource', () => {
    expect(resolveOptions({ ...BASE, resource: 'https://mcp.example.com/mcp/' }).resource).toBe('https://mcp.example.com/mcp/');
    const root = resolveOptions({ ...BASE, resource: 'https://mcp.example.com' });
    expect(root.resource).toBe('https://mcp.example.com');
    expect(root.resourceMetadataUrl).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
    expect(root.resourceMetadataPaths).toEqual(['/.well-known/oauth-protected-resource']);
  });

  test('introspection makes tokenFormat auto; undefined counts as absent', () => {
    const c = resolveOptions({ ...BASE, introspection: { clientId: 'rs', clientSecret: 's' }, jwksUri: undefined, strict: undefined });
    expect(c.tokenFormat).toBe('auto');
    expect(c.introspection).toMatchObject({ clientId: 'rs', authMethod: 'client_secret_basic', requireAudience: true, timeoutSeconds: 3, url: undefined });
  });

  test('http: accepted for loopback hosts (127.x, localhost, [::1])', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:3000', '[::1]:9', '127.1.2.3']) {
      expect(() => resolveOptions({ resource: `http://${host}/mcp`, issuer: `http://${host}`, jwksUri: `http://${host}/jwks` })).not.toThrow();
    }
  });
});

describe('resolveOptions: one ConfigError lists every problem', () => {
  test('several problems at once', () => {
    const p = problemsOf({ resource: 'https://mcp.example.com/mcp#frag', issuer: 'http://auth.example.com', clockTolerance: -1, jwksCooldownSeconds: -5, httpTimeoutSeconds: 0, algorithms: ['HS256', 'none'], isuer: 'x' });
    expect(p.some((s) => s.startsWith('resource') && s.includes('fragment'))).toBe(true);
    expect(p.some((s) => s.startsWith('issuer') && s.includes('https'))).toBe(true);
    expect(p.some((s) => s.startsWith('clockTolerance'))).toBe(true);
    expect(p.some((s) => s.startsWith('jwksCooldownSeconds'))).toBe(true);
    expect(p.some((s) => s.startsWith('httpTimeoutSeconds'))).toBe(true);
    expect(p.filter((s) => s.startsWith('algorithms'))).toHaveLength(2);
    expect(p.some((s) => s.includes('"isuer"') && s.includes('did you mean "issuer"'))).toBe(true);
    expect(p.length).toBeGreaterThanOrEqual(8);
  });

  test('the message names every problem', () => {
    let message = '';
    try { mcpAuth({ resource: 'ftp://x', issuer: 'nope' } as Options); } catch (err) { message = (err as Error).message; }
    expect(message).toMatch(/resource/);
    expect(message).toMatch(/issuer/);
  });

  test('missing resource and issuer', () => {
    const p = problemsOf({});
    expect(p.some((s) => s.startsWith('resource is required'))).toBe(true);
    expect(p.some((s) => s.startsWith('issuer is required'))).toBe(true);
  });

  test('not an object', () => {
    expect(problemsOf(null)).toHaveLength(1);
    expect(problemsOf('https://x')).toHaveLength(1);
  });

  test('unknown keys with a did-you-mean, including inside introspection', () => {
    const p = problemsOf({ ...BASE, requiredScope: ['a'], jwksURI: 'https://x/jwks', toolscopes: {}, introspection: { clientId: 'a', clientSecert: 'b' }, wholly_unrelated_option: 1 });
    expect(p).toEqual(expect.arrayContaining([
      expect.stringMatching(/"requiredScope".*did you mean "requiredScopes"/),
      expect.stringMatching(/"jwksURI".*did you mean "jwksUri"/),
      expect.stringMatching(/"toolscopes".*did you mean "toolScopes"/),
      expect.stringMatching(/"introspection\.clientSecert".*did you mean "clientSecret"/),
    ]));
    const unrelated = p.find((s) => s.includes('wholly_unrelated_option'));
    expect(unrelated).toBeDefined();
    expect(unrelated).not.toMatch(/did you mean/);
  });

  test('http: is refused for non-loopback issuer, jwksUri, introspection.url, resource', () => {
    const p = problemsOf({ resource: 'http://mcp.example.com/mcp', issuer: 'http://auth.example.com', jwksUri: 'http://auth.example.com/jwks', introspection: { clientId: 'a', url: 'http://auth.example.com/i' } });
    for (const name of ['resource', 'issuer', 'jwksUri', 'introspection.url']) {
      expect(p.some((s) => s.startsWith(name) && s.includes('loopback'))).toBe(true);
    }
    // Look-alikes of loopback are not loopback.
    expect(problemsOf({ ...BASE, issuer: 'http://127.0.0.1.evil.example' }).some((s) => s.startsWith('issuer'))).toBe(true);
    expect(problemsOf({ ...BASE, issuer: 'http://localhost.evil.example' }).some((s) => s.startsWith('issuer'))).toBe(true);
    // No "@" anywhere and the https:// form: a password behind a "/", "#" or a missing "//" never passes.
    for (const issuer of ['http://localhost:1/pw@as.example.com', 'http:localhost:1', 'HTTPS://as.example.com']) {
      expect(problemsOf({ ...BASE, issuer }).some((s) => s.startsWith('issuer'))).toBe(true);
    }
    expect(problemsOf({ ...BASE, jwksUri: 'https://svc:2024#pw@as.example.com/jwks' }).some((s) => s.startsWith('jwksUri'))).toBe(true);
    // An "@" in a path with no ":" before it is no login (Firebase's JWKS, hosted MCP endpoints, npm links).
    expect(() => resolveOptions({
      ...BASE,
      resource: 'https://server.smithery.ai/@smithery/notion/mcp',
      jwksUri: 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com',
      resourceDocumentation: 'https://www.npmjs.com/package/@acme/notes-mcp',
    })).not.toThrow();
  });

  test('resource: fragment, query, credentials, other schemes, relative', () => {
    for (const resource of ['https://x.example/mcp#', 'https://x.example/mcp#a', 'https://x.example/mcp?a=1', 'https://x.example/mcp?', 'https:x.example/mcp', 'https://x.example:8443/@me/mcp', 'https://u:2024#pw@x.example/mcp', 'https://u:p@x.example/mcp', 'ws://x.example/mcp', '/mcp', '', 42]) {
      expect(problemsOf({ ...BASE, resource }).some((s) => s.startsWith('resource'))).toBe(true);
    }
  });

  test('scopes outside RFC 6749 §3.3 (non-ASCII, ", \\, control characters) are refused wherever they are configured', () => {
    for (const bad of ['notes:écrire', 'a"b', 'a\\b', 'a\u0007b', '']) {
      const p = problemsOf({ ...BASE, requiredScopes: [bad], toolScopes: { x: [bad] }, promptScopes: { y: ['ok', bad] }, resourceScopes: { 'z://': [bad] }, scopesSupported: [bad] });
      for (const name of ['requiredScopes', 'toolScopes["x"]', 'promptScopes["y"]', 'resourceScopes["z://"]', 'scopesSupported']) {
        expect(p.some((s) => s.startsWith(name))).toBe(true);
      }
    }
    expect(() => resolveOptions({ ...BASE, requiredScopes: ['notes:read', 'https://graph.example/.default', "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~"] })).not.toThrow();
  });

  test('a clock in seconds, or one that returns nothing or throws, is refused (every token would look fresh)', () => {
    for (const clock of [() => Date.now() / 1000, () => undefined, () => NaN, () => { throw new Error('x'); }]) {
      expect(problemsOf({ ...BASE, clock }).some((s) => s.startsWith('clock must'))).toBe(true);
    }
    expect(() => resolveOptions({ ...BASE, clock: () => 1_800_000_000_000 })).not.toThrow();
    expect(() => resolveOptions({ ...BASE, clock: () => Date.UTC(1990, 0, 1) })).not.toThrow();
  });

  test('negative, infinite and non-numeric durations and sizes', () => {
    const keys = ['clockTolerance', 'cacheMaxAgeSeconds', 'negativeCacheSeconds', 'httpTimeoutSeconds', 'jwksCooldownSeconds', 'jwksCacheMaxAgeSeconds', 'jwksMaxStaleSeconds', 'maxTokenBytes', 'maxBodyBytes', 'cacheMaxEntries', 'jwksMaxBytes'];
    for (const bad of [-1, Number.NaN, Infinity, '5']) {
      const p = problemsOf({ ...BASE, ...Object.fromEntries(keys.map((k) => [k, bad])) });
      for (const k of keys) expect(p.some((s) => s.startsWith(k))).toBe(true);
    }
    expect(problemsOf({ ...BASE, maxTokenBytes: 100.5 }).some((s) => s.startsWith('maxTokenBytes'))).toBe(true);
    expect(problemsOf({ ...BASE, negativeCacheSeconds: 31 }).some((s) => s.startsWith('negativeCacheSeconds'))).toBe(true);
  });

  test('wrong types of lists, maps, enums and functions', () => {
    const p = problemsOf({
      ...BASE, audience: [], requiredScopes: ['a b'], scopesSupported: 'a', toolScopes: { 'a*b': ['x'], t: 'x' },
      challengeScope: 'some', tokenFormat: 'opaque', strict: 'yes', onEvent: 5, clock: 5, authorizationServers: [],
    });
    for (const name of ['audience', 'requiredScopes', 'scopesSupported', 'toolScopes["a*b"]', 'toolScopes["t"]', 'challengeScope', 'tokenFormat', 'strict', 'onEvent', 'clock', 'authorizationServers']) {
      expect(p.some((s) => s.startsWith(name))).toBe(true);
    }
  });

  test('mcpAuth() never reads process.env', () => {
    const saved = { ...process.env };
    process.env.MCP_AUTH_RESOURCE = BASE.resource;
    process.env.MCP_AUTH_ISSUER = BASE.issuer;
    try {
      expect(() => mcpAuth({} as Options)).toThrow(ConfigError);
      const g = mcpAuth({ resource: 'https://other.example/mcp', issuer: 'https://other-as.example' });
      expect(g.config.resource).toBe('https://other.example/mcp');
      expect(g.config.issuer).toBe('https://other-as.example');
      void g.close();
    } finally {
      process.env = saved;
    }
  });
});

describe('resourceScopes keys', () => {
  test('a prefix written with and without the trailing * is one rule, so both together are refused', () => {
    expect(() => resolveOptions({ resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com', resourceScopes: { 'notes://': ['a'], 'notes://*': ['b'] } }))
      .toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^resourceScopes: "notes:\/\/" and "notes:\/\/\*" name the same URI prefix/)] }));
  });
});

// Type level (checked by `npm test`'s tsc): what resolveOptions requires, the types require too, and
// closed lists are closed. Each @ts-expect-error fails the type check if its line ever compiles.
test('the types require issuer and introspection.clientSecret, as mcpAuth() does at run time; event reasons are closed lists', () => {
  // @ts-expect-error issuer is required
  const noIssuer: Options = { resource: 'https://mcp.example.com/mcp' };
  // @ts-expect-error clientSecret is required
  const noSecret: IntrospectionOptions = { clientId: 'rs' };
  expect(() => mcpAuth(noIssuer)).toThrow(ConfigError);
  expect(() => mcpAuth({ resource: 'https://mcp.example.com/mcp', issuer: 'https://as.example.com', introspection: noSecret })).toThrow(ConfigError);
  const reasons = (e: GuardEvent): boolean =>
    // @ts-expect-error a misspelt list_unfiltered reason
    (e.type === 'list_unfiltered' && e.reason === 'unparsable')
    // @ts-expect-error a misspelt misconfigured reason
    || (e.type === 'misconfigured' && e.reason === 'introspection_credentials_rejected');
  expect(reasons({ type: 'list_unfiltered', method: 'tools/list', reason: 'unparseable' })).toBe(false);
});
