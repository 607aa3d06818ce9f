/**
 * The DESIGN wire table, row by row, over real HTTP: status, challenge, JSON-RPC body, CORS
 * exposure; and each time, the handler did not run.
 */
import express from 'express';
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { parseChallenge } from '../helpers/challenge.js';
import { listen, rawRequest, type Listening } from '../helpers/http.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const METADATA_URL = 'http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp';
const PING = { jsonrpc: '2.0', id: 7, method: 'ping' };

let as: LoopbackAS;
let down: LoopbackAS;
let key: TestKey;
let otherKey: TestKey;
let sign: ReturnType<typeof tokenBuilder>;
let t: TestApp;
let live: Listening;
const guards: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  down = await startLoopbackAS();
  down.faults.jwks = '500';
  [key, otherKey] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
  as.keys = [key.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, scopesSupported: ['mcp', 'admin'] }, {
    extra: (app, guard, handler) => {
      app.post('/form', express.urlencoded({ extended: false }), guard.protect(), handler);
      app.post('/admin', guard.protect({ scopes: ['admin'] }), handler);
      app.post('/exposed', (_req, res, next) => { res.setHeader('Access-Control-Expose-Headers', 'Mcp-Session-Id'); next(); }, guard.protect(), handler);
    },
  });
  guards.push(t.guard);
  live = await listen(t.app);
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await live.close();
  await as.close();
  await down.close();
});

/** Common assertions of every failure: JSON-RPC body, exposure, no-store, no token echo, handler not run. */
function expectFailure(res: { status: number; headers: Record<string, unknown>; body: any; text?: string }, status: number, code: string, calls: () => number, before: number, token?: string) {
  expect(res.status).toBe(status);
  expect(res.body.jsonrpc).toBe('2.0');
  expect(res.body.error.data.code).toBe(code);
  expect(typeof res.body.error.code).toBe('number');
  expect(res.body.error.code).toBeLessThanOrEqual(-32000);
  expect(res.body.error.code).toBeGreaterThanOrEqual(-32099);
  expect([-32001, -32002]).not.toContain(res.body.error.code);
  expect(res.headers['access-control-expose-headers']).toMatch(/WWW-Authenticate/i);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(calls()).toBe(before);
  expect(JSON.stringify(res.body)).not.toMatch(/\bat \S+ \(|Error:|\.ts:\d+/); // no stack trace
  if (token) {
    const all = JSON.stringify(res.headers) + (res.text ?? JSON.stringify(res.body));
    for (const part of token.split('.')) if (part.length > 8) expect(all).not.toContain(part);
  }
}

describe('row: no credentials at all', () => {
  test('401, challenge with resource_metadata and no error=, UNAUTHORIZED, id echoed', async () => {
    const before = t.calls();
    const res = await request(t.app).post('/mcp').send(PING);
    expectFailure(res, 401, 'UNAUTHORIZED', t.calls, before);
    expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${METADATA_URL}"`);
    expect(res.body.id).toBe(7);
    expect(res.body.error.code).toBe(-32000);
    expect(res.body.error.data.error).toBeUndefined();
    expect(res.body.error.data.resource_metadata).toBe(METADATA_URL);
  });

  test('another scheme (Basic) is no bearer credential: 401 without error=', async () => {
    const before = t.calls();
    const res = await request(t.app).post('/mcp').set('Authorization', 'Basic dXNlcjpwYXNz').send(PING);
    expectFailure(res, 401, 'UNAUTHORIZED', t.calls, before);
    expect(parseChallenge(res.headers['www-authenticate']).params.error).toBeUndefined();
  });

  test('with requiredScopes, the 401 carries scope= (the base set)', async () => {
    const g = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp', 'files:read'] });
    guards.push(g.guard);
    const res = await request(g.app).post('/mcp').send(PING);
    expectFailure(res, 401, 'UNAUTHORIZED', g.calls, 0);
    const c = parseChallenge(res.headers['www-authenticate']);
    expect(c.names).toEqual(['scope', 'resource_metadata']);
    expect(c.params.scope).toBe('mcp files:read');
  });
});

describe('row: malformed request → 400 invalid_request', () => {
  const malformed = ['Bearer', 'Bearer a b', 'Bearer tok,en', 'Bearer "quoted"', 'Bearer\tabc', 'Bearer abc=def', 'Bearer =abc'];
  test.each(malformed)('Authorization: %j', async (header) => {
    const before = t.calls();
    const res = await request(t.app).post('/mcp').set('Authorization', header).send(PING);
    expectFailure(res, 400, 'INVALID_REQUEST', t.calls, before);
    const c = parseChallenge(res.headers['www-authenticate']);
    expect(c.params.error).toBe('invalid_request');
    expect(c.params.resource_metadata).toBe(METADATA_URL);
    expect(res.body.error.data.error).toBe('invalid_request');
  });

  test('two Authorization headers (raw request; Node keeps only the first in req.headers)', async () => {
    const token = await sign(key);
    const before = t.calls();
    const res = await rawRequest(`${live.url}/mcp`, 'POST', [
      'Authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`, 'Content-Type', 'application/json',
    ], JSON.stringify(PING));
    expectFailure({ ...res, body: res.json(), text: res.body }, 400, 'INVALID_REQUEST', t.calls, before, token);
    expect(parseChallenge(res.headers['www-authenticate']).params.error).toBe('invalid_request');
    expect(res.json().id).toBe(7);
  });

  test('a header set by an earlier middleware on req.headers is honoured', async () => {
    const g = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri }, {
      extra: (app, guard, handler) => app.post('/cookie', (req, _res, next) => { req.headers.authorization = `Bearer ${String(req.headers['x-test-token'])}`; next(); }, guard.protect(), handler),
    });
    guards.push(g.guard);
    const res = await request(g.app).post('/cookie').set('X-Test-Token', await sign(key)).send(PING);
    expect(res.status).toBe(200);
    expect(g.calls()).toBe(1);
  });

  test('token in the query string alone: 400, never accepted', async () => {
    const token = await sign(key);
    const before = t.calls();
    const res = await request(t.app).post(`/mcp?access_token=${token}`).send(PING);
    expectFailure(res, 400, 'INVALID_REQUEST', t.calls, before, token);
  });

  test('token in the query string beside a valid header: 400', async () => {
    const token = await sign(key);
    const before = t.calls();
    const res = await request(t.app).get(`/mcp?x=1&access_token=${token}`).set('Authorization', `Bearer ${token}`);
    expectFailure(res, 400, 'INVALID_REQUEST', t.calls, before, token);
    expect(res.body.id).toBeNull();
  });

  test('token in a form body (with a header too, and alone): 400', async () => {
    const token = await sign(key);
    const before = t.calls();
    const a = await request(t.app).post('/form').type('form').send({ access_token: token });
    expectFailure(a, 400, 'INVALID_REQUEST', t.calls, before, token);
    const b = await request(t.app).post('/form').set('Authorization', `Bearer ${token}`).type('form').send({ access_token: token });
    expectFailure(b, 400, 'INVALID_REQUEST', t.calls, before, token);
    // Control: the same route with the header only is allowed.
    const ok = await request(t.app).post('/form').set('Authorization', `Bearer ${token}`).type('form').send({ q: '1' });
    expect(ok.status).toBe(200);
    expect(t.calls()).toBe(before + 1);
  });
});

describe('row: the token is at fault → 401 invalid_token', () => {
  const cases: [string, () => Promise<string>][] = [
    ['bad signature', async () => sign(otherKey, {}, { kid: key.kid })],
    ['expired', async () => sign(key, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['wrong issuer', async () => sign(key, { iss: 'http://127.0.0.1:1' })],
    ['wrong audience', async () => sign(key, { aud: 'http://127.0.0.1:9/other' })],
    ['wrong type (id token)', async () => sign(key, {}, { typ: 'id_token+jwt' })],
    ['oversized (over maxTokenBytes)', async () => `${'a'.repeat(9000)}.b.c`],
    ['not a JWT', async () => 'opaque-token-value'],
  ];
  test.each(cases)('%s', async (_name, make) => {
    const token = await make();
    const before = t.calls();
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 'req-1', method: 'ping' });
    expectFailure(res, 401, 'UNAUTHORIZED', t.calls, before, token);
    const c = parseChallenge(res.headers['www-authenticate']);
    expect(c.names).toEqual(['error', 'error_description', 'resource_metadata']);
    expect(c.params.error).toBe('invalid_token');
    expect(c.params.resource_metadata).toBe(METADATA_URL);
    expect(res.body).toMatchObject({ id: 'req-1', error: { code: -32000, data: { code: 'UNAUTHORIZED', error: 'invalid_token', resource_metadata: METADATA_URL } } });
    expect(typeof res.body.error.data.error_description).toBe('string');
  });
});

describe('row: insufficient scope → 403', () => {
  test('route scopes: 403 insufficient_scope, scope= names what is needed plus known scopes held', async () => {
    const token = await sign(key, { scope: 'mcp unrelated' });
    const before = t.calls();
    const res = await request(t.app).post('/admin').set('Authorization', `Bearer ${token}`).send(PING);
    expectFailure(res, 403, 'FORBIDDEN', t.calls, before, token);
    const c = parseChallenge(res.headers['www-authenticate']);
    expect(c.names).toEqual(['error', 'error_description', 'scope', 'resource_metadata']);
    expect(c.params.error).toBe('insufficient_scope');
    expect(c.params.scope!.split(' ').sort()).toEqual(['admin', 'mcp']);
    expect(res.body.error.data).toMatchObject({ code: 'FORBIDDEN', error: 'insufficient_scope' });
    expect(res.body.error.code).toBe(-32003);
    // Control: with the scope, the route runs.
    const ok = await request(t.app).post('/admin').set('Authorization', `Bearer ${await sign(key, { scope: 'admin' })}`).send(PING);
    expect(ok.status).toBe(200);
    expect(t.calls()).toBe(before + 1);
  });
});

describe('row: authorization server unavailable → 503', () => {
  test('JWKS answering 500: 503 + Retry-After, AUTH_UNAVAILABLE, no WWW-Authenticate', async () => {
    const g = buildApp({ resource: RESOURCE, issuer: down.issuer, jwksUri: down.jwksUri });
    guards.push(g.guard);
    const token = await tokenBuilder({ issuer: down.issuer, audience: RESOURCE })(key);
    const res = await request(g.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expectFailure(res, 503, 'AUTH_UNAVAILABLE', g.calls, 0, token);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.body.error.code).toBe(-32005);
    expect(res.body.id).toBe(7);
  });

  test('JWKS on a closed port (connection refused): 503', async () => {
    const closed = await listen((_req, res) => res.end());
    const jwksUri = `${closed.url}/jwks`;
    await closed.close();
    const g = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri });
    guards.push(g.guard);
    const res = await request(g.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
    expectFailure(res, 503, 'AUTH_UNAVAILABLE', g.calls, 0);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.headers['retry-after']).toBeDefined();
  });
});

describe('the JSON-RPC body and headers', () => {
  test('id echoes strings and numbers; null when absent, null, a batch, or no body', async () => {
    const cases: [unknown, unknown][] = [
      [{ jsonrpc: '2.0', id: 42, method: 'ping' }, 42],
      [{ jsonrpc: '2.0', id: 'abc', method: 'ping' }, 'abc'],
      [{ jsonrpc: '2.0', id: null, method: 'ping' }, null],
      [{ jsonrpc: '2.0', method: 'notifications/initialized' }, null],
      [[{ jsonrpc: '2.0', id: 1, method: 'ping' }], null],
      [{ jsonrpc: '2.0', id: { nested: true }, method: 'ping' }, null],
    ];
    for (const [body, id] of cases) {
      const res = await request(t.app).post('/mcp').send(body as object);
      expect(res.status).toBe(401);
      expect(res.body.id).toStrictEqual(id);
    }
    const get = await request(t.app).get('/mcp');
    expect(get.status).toBe(401);
    expect(get.body.id).toBeNull();
    expect(get.headers['content-type']).toMatch(/^application\/json/);
  });

  test('Access-Control-Expose-Headers: added to what the app already exposes, once', async () => {
    const res = await request(t.app).post('/exposed').send(PING);
    expect(res.status).toBe(401);
    const exposed = String(res.headers['access-control-expose-headers']).split(',').map((s) => s.trim());
    expect(exposed).toEqual(['Mcp-Session-Id', 'WWW-Authenticate']);
  });

  test('resource_metadata is the configured URL whatever Host and X-Forwarded-* say', async () => {
    const g = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri });
    guards.push(g.guard);
    g.app.set('trust proxy', true);
    const res = await request(g.app).post('/mcp')
      .set('Host', 'evil.example')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'https')
      .set('X-Forwarded-Prefix', '/evil')
      .set('Forwarded', 'host=evil.example;proto=https')
      .set('Authorization', 'Bearer expired.token.here')
      .send(PING);
    expect(res.status).toBe(401);
    expect(parseChallenge(res.headers['www-authenticate']).params.resource_metadata).toBe(METADATA_URL);
    expect(res.body.error.data.resource_metadata).toBe(METADATA_URL);
    expect(JSON.stringify(res.headers) + res.text).not.toContain('evil');
  });

  test('a valid token reaches the handler, the happy path control', async () => {
    const before = t.calls();
    const res = await request(t.app).post('/mcp').set('Authorization', `bEaReR ${await sign(key)}`).send(PING);
    expect(res.status).toBe(200);
    expect(t.calls()).toBe(before + 1);
  });
});
