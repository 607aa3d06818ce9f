import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let key: TestKey;
let sign: ReturnType<typeof tokenBuilder>;

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
});
afterAll(() => as.close());

describe('protect(): the happy path and the basic failures', () => {
  test('a valid token reaches the handler with req.auth', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer });
    const token = await sign(key, { scope: 'mcp notes:read' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.status).toBe(200);
    expect(t.calls()).toBe(1);
    const auth = t.lastAuth() as { token: string; clientId: string; scopes: string[]; expiresAt: number; resource: URL; extra: Record<string, unknown> };
    expect(auth.token).toBe(token);
    expect(auth.clientId).toBe('client-1');
    expect(auth.scopes).toEqual(['mcp', 'notes:read']);
    expect(auth.resource.href).toBe(RESOURCE);
    expect(auth.extra.iss).toBe(as.issuer);
    expect(typeof auth.expiresAt).toBe('number');
    await t.guard.close();
  });

  test('no credentials: 401 without error=', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer });
    const res = await request(t.app).post('/mcp').send({ jsonrpc: '2.0', id: 7, method: 'ping' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer resource_metadata="http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp"');
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32000, data: { code: 'UNAUTHORIZED' } } });
    expect(t.calls()).toBe(0);
  });

  test('expired: 401 invalid_token', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer });
    const token = await sign(key, { exp: Math.floor(Date.now() / 1000) - 100 });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 'a', method: 'ping' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata=/);
    expect(res.body.id).toBe('a');
    expect(t.calls()).toBe(0);
  });

  test('a token outside the b64token grammar: 400 invalid_request, before and after a good token was cached, no upstream call', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer });
    const token = await sign(key, {});
    const send = (value: string) => request(t.app).post('/mcp').set('Authorization', value).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect((await send(`Bearer ${token}`)).status).toBe(200);
    as.resetCounts();
    for (const bad of [`Bearer ${token}!`, `Bearer ${token.replace('.', ',')}`, 'Bearer "a"', 'Bearer a b']) {
      const res = await send(bad);
      expect(res.status).toBe(400);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_request", /);
    }
    expect((await send(`Bearer ${token}`)).status).toBe(200);
    expect(t.calls()).toBe(2);
    expect(as.counts).toMatchObject({ discovery: 0, jwks: 0 });
    await t.guard.close();
  });
});
