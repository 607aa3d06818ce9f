/** The guard's lifecycle (ready, close), protect()/requireScopes() contracts, over real HTTP. */
import express from 'express';
import request from 'supertest';
import { mcpAuth, McpAuthError, requireScopes, type McpAuthGuard } from '../lib/index.js';
import { buildApp } from './helpers/app.js';
import { parseChallenge } from './helpers/challenge.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let key: TestKey;
let sign: ReturnType<typeof tokenBuilder>;
const guards: McpAuthGuard[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
});
beforeEach(() => {
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.resetCounts();
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await as.close();
});

function guard(over: Record<string, unknown> = {}): McpAuthGuard {
  const g = mcpAuth({ resource: RESOURCE, issuer: as.issuer, ...over });
  guards.push(g);
  return g;
}

describe('ready()', () => {
  test('resolves once discovery and keys are loaded; later requests fetch nothing', async () => {
    const g = guard();
    await expect(g.ready()).resolves.toBeUndefined();
    expect(as.counts).toMatchObject({ discovery: 1, jwks: 1 });
    await expect(g.verify(await sign(key))).resolves.toMatchObject({ clientId: 'client-1' });
    await expect(g.ready()).resolves.toBeUndefined();
    expect(as.counts).toMatchObject({ discovery: 1, jwks: 1 });
  });

  test('rejects with the reason (an McpAuthError with a cause)', async () => {
    as.faults.jwks = 'html';
    const g = guard({ jwksUri: as.jwksUri });
    const err = await g.ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpAuthError);
    expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable', status: 503 });
    expect((err as Error).cause).toBeDefined();
  });

  test('an issuer with a path: RFC 8414 path-inserted discovery, then tokens verify', async () => {
    const tenant = await startLoopbackAS({ path: '/tenants/acme' });
    try {
      tenant.keys = [key.publicJwk];
      const g = guard({ issuer: tenant.issuer });
      await g.ready();
      expect(tenant.log[0]).toBe('GET /.well-known/oauth-authorization-server/tenants/acme');
      const info = await g.verify(await tokenBuilder({ issuer: tenant.issuer, audience: RESOURCE })(key));
      expect(info.extra?.iss).toBe(tenant.issuer);
      await g.close();
    } finally {
      await tenant.close();
    }
  });

  test('nothing is fetched at construction (no request before the first use)', async () => {
    guard();
    guard({ jwksUri: as.jwksUri });
    await new Promise((r) => setImmediate(r));
    expect(as.log).toEqual([]);
  });
});

describe('close()', () => {
  test('aborts a fetch under way: the waiting request ends at once with 503, not after the timeout', async () => {
    as.faults.jwks = 'hang';
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, httpTimeoutSeconds: 30 });
    guards.push(t.guard);
    const pending = request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send({});
    const result = new Promise<request.Response>((resolve, reject) => pending.then(resolve, reject));
    for (let i = 0; i < 200 && as.counts.jwks === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(as.counts.jwks).toBe(1);
    const started = performance.now();
    await t.guard.close();
    const res = await result;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(503);
    expect(t.calls()).toBe(0);
  });

  test('after close: no further fetch, tokens answered 503', async () => {
    const g = guard({ jwksUri: as.jwksUri });
    await g.ready();
    await g.close();
    const err = await g.verify(await sign(key)).catch((e: McpAuthError) => e);
    expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE' });
    expect(as.counts.jwks).toBe(1);
  });
});

describe('protect() and requireScopes()', () => {
  test('protect() refuses bad options at once', () => {
    const g = guard();
    expect(() => g.protect({ scope: ['a'] } as never)).toThrow(TypeError);
    expect(() => g.protect({ scopes: ['a b'] })).toThrow(TypeError);
    expect(() => g.protect({ scopes: 'a' as never })).toThrow(TypeError);
    expect(() => g.protect(null as never)).toThrow(TypeError);
    expect(() => requireScopes('')).toThrow(TypeError);
    expect(() => g.protect({ scopes: ['notes:écrire'] })).toThrow(TypeError);
    expect(() => requireScopes('a"b')).toThrow(TypeError);
  });

  test('requireScopes after protect: 403 with scope=, handler not run; with the scope the handler runs', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp'] }, {
      extra: (app, g, handler) => app.post('/admin', g.protect(), requireScopes('admin', 'audit'), handler),
    });
    guards.push(t.guard);
    const denied = await request(t.app).post('/admin').set('Authorization', `Bearer ${await sign(key, { scope: 'mcp admin' })}`).send({ jsonrpc: '2.0', id: 3, method: 'x' });
    expect(denied.status).toBe(403);
    expect(denied.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(denied.headers['www-authenticate']).toMatch(/scope="admin audit mcp"/);
    expect(denied.body).toMatchObject({ id: 3, error: { data: { code: 'FORBIDDEN' } } });
    expect(t.calls()).toBe(0);
    const ok = await request(t.app).post('/admin').set('Authorization', `Bearer ${await sign(key, { scope: 'mcp admin audit' })}`).send({});
    expect(ok.status).toBe(200);
    expect(t.calls()).toBe(1);
  });

  test("requireScopes' 403 keeps what the request also needs and the token holds: the route's scopes, requiredScopes", async () => {
    const g = guard({ requiredScopes: ['mcp'], scopesSupported: ['notes:read'] });
    const app = express();
    let calls = 0;
    app.use('/admin', g.protect({ scopes: ['admin'] }));
    app.post('/admin/purge', requireScopes('admin:purge'), (_req, res) => { calls++; res.json({}); });
    app.post('/audit', g.protect(), requireScopes('audit'), (_req, res) => { calls++; res.json({}); });
    const purge = await request(app).post('/admin/purge').set('Authorization', `Bearer ${await sign(key, { scope: 'mcp admin notes:read other' })}`).send({});
    expect(purge.status).toBe(403);
    expect(parseChallenge(purge.headers['www-authenticate']).params.scope!.split(' ').sort()).toEqual(['admin', 'admin:purge', 'mcp', 'notes:read']);
    const audit = await request(app).post('/audit').set('Authorization', `Bearer ${await sign(key, { scope: 'mcp' })}`).send({});
    expect(audit.status).toBe(403);
    expect(parseChallenge(audit.headers['www-authenticate']).params.scope!.split(' ').sort()).toEqual(['audit', 'mcp']);
    expect(calls).toBe(0);
  });

  test('requireScopes after an app-wide protect(): the metadata and CORS preflights protect() let through pass; the rest is checked', async () => {
    const g = guard({ requiredScopes: ['mcp'] });
    const app = express();
    let calls = 0;
    app.use(g.protect());
    app.use(requireScopes('mcp'));
    app.use(g.metadata());
    app.all('/{*any}', (_req, res) => { calls++; res.json({ ok: true }); });
    const meta = await request(app).get('/.well-known/oauth-protected-resource/mcp');
    expect({ status: meta.status, resource: meta.body.resource }).toEqual({ status: 200, resource: RESOURCE });
    const pre = await request(app).options('/mcp').set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'POST');
    expect(pre.status).toBe(200);
    expect(calls).toBe(1);
    expect((await request(app).post('/mcp').send({})).status).toBe(401);
    expect((await request(app).post('/mcp').set('Authorization', `Bearer ${await sign(key, { scope: 'other' })}`).send({})).status).toBe(403);
    expect((await request(app).post('/mcp').set('Authorization', `Bearer ${await sign(key, { scope: 'mcp' })}`).send({})).status).toBe(200);
    expect(calls).toBe(2);
  });

  test('requiredScopes apply to every request: 403 when missing', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp'] });
    guards.push(t.guard);
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key, { scope: 'other' })}`).send({});
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(/scope="mcp"/);
    expect(t.calls()).toBe(0);
  });

  test('requireScopes without protect() fails closed: next(err), the handler never runs', async () => {
    const app = express();
    let calls = 0;
    app.post('/x', requireScopes('a'), (_req, res) => { calls++; res.end(); });
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ code: (err as McpAuthError).code });
    });
    const res = await request(app).post('/x');
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('AUTH_MISCONFIGURED');
    expect(calls).toBe(0);
  });

  test('req.auth is set only on success; a cache hit gives the same AuthInfo', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri });
    guards.push(t.guard);
    const token = await sign(key, { scope: 'a b a' });
    await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({});
    const first = t.lastAuth();
    await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({});
    expect(t.lastAuth()).toBe(first);
    expect((first as { scopes: string[] }).scopes).toEqual(['a', 'b']);
    expect(Object.isFrozen(first)).toBe(true);
  });
});
