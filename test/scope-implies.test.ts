/**
 * The scope hierarchy (`scopeImplies`; MCP 2026-07-28: "Servers MUST account for scope
 * hierarchies, where a broader scope implies narrower ones, when deciding whether a token is
 * sufficient"): a token holding a broader scope passes every check its narrower ones pass
 * (`requiredScopes`, route scopes, tool rules, list filtering, `requireScopes()`, `hasScopes()`),
 * because its `AuthInfo.scopes` lists the implied scopes after its own; without `scopeImplies`
 * scopes stay exact. And `offline_access` (a refresh-token request, which 2026-07-28 keeps out of
 * challenges and metadata) is refused wherever a configured scope could reach either.
 */
import request from 'supertest';
import { ConfigError, fromEnv, hasScopes, mcpAuth, requireScopes, type Options } from '../lib/index.js';
import { closeHierarchy, withImplied } from '../lib/policy/scopes.js';
import { buildApp, type TestApp } from './helpers/app.js';
import { loopbackJwtSuite } from './helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const IMPLIES = { 'notes:admin': ['notes:write'], 'notes:write': ['notes:read'] };

function problemsOf(options: Partial<Options>): readonly string[] {
  try {
    mcpAuth({ resource: RESOURCE, issuer: 'https://as.example.com', ...options } as Options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('closeHierarchy / withImplied', () => {
  test('transitive; held scopes first, implied after, no duplicates; cycles are equivalences', () => {
    const h = closeHierarchy({ ...IMPLIES, a: ['b'], b: ['a'] });
    expect(withImplied(['notes:admin'], h)).toEqual(['notes:admin', 'notes:write', 'notes:read']);
    expect(withImplied(['notes:read', 'notes:write'], h)).toEqual(['notes:read', 'notes:write']);
    expect(withImplied(['b'], h)).toEqual(['b', 'a']);
    expect(h['a']).toEqual(['b']);
  });

  test('nothing implied: the very same list (no copy per token)', () => {
    const held = Object.freeze(['x', 'notes:read']);
    expect(withImplied(held, closeHierarchy(IMPLIES))).toBe(held);
    expect(withImplied(held, undefined)).toBe(held);
  });
});

describe('options', () => {
  test('scopeImplies must map scopes to arrays of scopes', () => {
    expect(problemsOf({ scopeImplies: ['notes:admin'] as never })).toEqual([expect.stringMatching(/^scopeImplies must be an object/)]);
    expect(problemsOf({ scopeImplies: { 'notes admin': ['x'] } })).toEqual([expect.stringMatching(/^scopeImplies: "notes admin" is not a scope/)]);
    expect(problemsOf({ scopeImplies: { 'notes:admin': 'notes:write' as never } })).toEqual([expect.stringMatching(/^scopeImplies\["notes:admin"\] must be an array of scopes/)]);
    const config = mcpAuth({ resource: RESOURCE, issuer: 'https://as.example.com', scopeImplies: IMPLIES }).config;
    expect(config.scopeImplies?.['notes:admin']).toEqual(['notes:write', 'notes:read']);
    // Frozen like the rest of the configuration: no one widens every token's scopes afterwards.
    expect(Object.isFrozen(config.scopeImplies) && Object.isFrozen(config.scopeImplies!['notes:admin'])).toBe(true);
    expect(() => { (config.scopeImplies as Record<string, string[]>)['notes:read'] = ['admin']; }).toThrow(TypeError);
  });

  test('MCP_AUTH_SCOPE_IMPLIES, both forms', () => {
    expect(fromEnv({ MCP_AUTH_SCOPE_IMPLIES: 'notes:admin=notes:write;notes:write=notes:read' }).scopeImplies).toEqual(IMPLIES);
    expect(fromEnv({ MCP_AUTH_SCOPE_IMPLIES: JSON.stringify(IMPLIES) }).scopeImplies).toEqual(IMPLIES);
    // A scope may hold "=": the compact form cannot tell `x=y` implies `z` from `x` implies `y=z`.
    expect(() => fromEnv({ MCP_AUTH_SCOPE_IMPLIES: 'x=y=z' })).toThrow(/more than one "="/);
    expect(fromEnv({ MCP_AUTH_SCOPE_IMPLIES: '{"x=y":["z"]}' }).scopeImplies).toEqual({ 'x=y': ['z'] });
  });

  test('offline_access is refused in every configured scope list, protect({ scopes }) and requireScopes()', () => {
    expect(problemsOf({ requiredScopes: ['mcp', 'offline_access'] })).toEqual([expect.stringMatching(/^requiredScopes: "offline_access" asks for a refresh token/)]);
    expect(problemsOf({ scopesSupported: ['offline_access'] })).toEqual([expect.stringMatching(/^scopesSupported: "offline_access"/)]);
    expect(problemsOf({ toolScopes: { sync: ['offline_access'] } })).toEqual([expect.stringMatching(/^toolScopes\["sync"\]: "offline_access"/)]);
    expect(problemsOf({ resourceScopes: { 'x://': ['offline_access'] } })).toEqual([expect.stringMatching(/^resourceScopes\["x:\/\/"\]: "offline_access"/)]);
    // Implied scopes are known to a 403; and a refresh-token request must not imply access.
    expect(problemsOf({ scopeImplies: { offline_access: ['notes:write'] } })).toEqual([expect.stringMatching(/^scopeImplies\["offline_access"\]: "offline_access"/)]);
    expect(problemsOf({ scopeImplies: { 'notes:admin': ['offline_access'] } })).toEqual([expect.stringMatching(/^scopeImplies\["notes:admin"\]: "offline_access"/)]);
    const guard = mcpAuth({ resource: RESOURCE, issuer: 'https://as.example.com' });
    expect(() => guard.protect({ scopes: ['offline_access'] })).toThrow(/offline_access/);
    expect(() => requireScopes('offline_access')).toThrow(/offline_access/);
  });
});

describe('over HTTP', () => {
  const call = (name: string, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
  function app(extra: Partial<Options> = {}): TestApp {
    const a = buildApp({
      resource: RESOURCE,
      issuer: fx.as.issuer,
      requiredScopes: ['notes:read'],
      toolScopes: { write_note: ['notes:write'], read_note: ['notes:read'], purge: ['notes:admin'] },
      ...extra,
    }, {
      extra: (x, _guard, handler) => { x.post('/admin', _guard.protect({ scopes: ['notes:write'] }), requireScopes('notes:read'), handler); },
    });
    return fx.track(a);
  }

  test('a broader scope passes the checks of the narrower ones it implies: base, tool, route and requireScopes()', async () => {
    const t = app({ scopeImplies: IMPLIES });
    const admin = await fx.token({ scope: 'notes:admin' });
    for (const name of ['read_note', 'write_note', 'purge']) {
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${admin}`).send(call(name));
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
    }
    const auth = t.lastAuth() as { scopes: string[]; extra: { scope: string } };
    expect(auth.scopes).toEqual(['notes:admin', 'notes:write', 'notes:read']);
    expect(auth.extra.scope).toBe('notes:admin');
    expect(hasScopes(auth, 'notes:read')).toBe(true);
    expect((await request(t.app).post('/admin').set('Authorization', `Bearer ${admin}`).send({})).status).toBe(200);
    expect(t.calls()).toBe(4);
  });

  test('a narrower scope does not imply a broader one: 403 naming what is needed', async () => {
    const t = app({ scopeImplies: IMPLIES });
    const writer = await fx.token({ scope: 'notes:write' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${writer}`).send(call('write_note'))).status).toBe(200);
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${writer}`).send(call('purge'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/ scope="[^"]*notes:admin/);
    expect(t.calls()).toBe(1);
  });

  test('a 403 names what is needed and the scopes the token was granted, not those they only imply (MCP 2026-07-28: a hierarchy does not change what a challenge names)', async () => {
    const t = app({ scopeImplies: IMPLIES, toolScopes: { write_note: ['notes:write'], bill: ['billing:read'] } });
    const admin = await fx.token({ scope: 'notes:admin' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${admin}`).send(call('bill'));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/ scope="notes:read billing:read notes:admin"/);
    expect(t.calls()).toBe(0);
  });

  test('without scopeImplies scopes are exact: the broader scope alone passes nothing narrower', async () => {
    const t = app();
    const admin = await fx.token({ scope: 'notes:admin' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${admin}`).send(call('purge'))).status).toBe(403);
    expect(t.calls()).toBe(0);
  });
});
