/**
 * Opaque tokens through RFC 7662 introspection at a loopback endpoint (real HTTP, counted calls):
 * acceptance, the claim checks, client authentication, `auto` dispatch, scopes, no token leaks.
 */
import request from 'supertest';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, expectNoTokenMaterial, opaqueOptions, opaqueToken, PING, RESOURCE, RS_CLIENT } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';

let as: LoopbackAS;
let key: TestKey;
const open: (TestApp | McpAuthGuard)[] = [];
const now = () => Math.floor(Date.now() / 1000);

function app(...args: Parameters<typeof buildApp>): TestApp {
  const t = buildApp(...args);
  open.push(t);
  return t;
}

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
});
beforeEach(() => {
  as.resetCounts();
  as.introspect = () => ({ body: { active: false } });
});
afterEach(async () => {
  for (const t of open.splice(0)) await ('guard' in t ? t.guard : t).close();
});
afterAll(() => as.close());

describe('an active opaque token', () => {
  test('passes with req.auth built as for a JWT; the second request is a cache hit', async () => {
    const token = opaqueToken();
    const exp = now() + 600;
    as.introspect = (r) => ({ body: r.token === token ? activeAnswer(as, now(), { exp }) : { active: false } });
    const t = app(opaqueOptions(as));
    const first = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(first.status).toBe(200);
    expect(t.calls()).toBe(1);
    const auth = t.lastAuth() as { token: string; clientId: string; scopes: string[]; expiresAt: number; resource: URL; extra: Record<string, unknown> };
    expect(auth.token).toBe(token);
    expect(auth.clientId).toBe('client-1');
    expect(auth.scopes).toEqual(['mcp', 'notes:read']);
    expect(auth.expiresAt).toBe(exp);
    expect(auth.resource.href).toBe(RESOURCE);
    expect(auth.extra).toMatchObject({ iss: as.issuer, sub: 'user-1', aud: RESOURCE });

    const second = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(second.status).toBe(200);
    expect(t.calls()).toBe(2);
    expect(as.counts.introspection).toBe(1);
  });

  test('aud as an array containing the resource passes; a configured audience replaces the resource', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now(), { aud: ['https://other.example', RESOURCE] }) });
    const t = app(opaqueOptions(as));
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);

    const token2 = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now(), { aud: 'api://mcp' }) });
    const t2 = app(opaqueOptions(as, { audience: 'api://mcp' }));
    expect((await request(t2.app).post('/mcp').set('Authorization', `Bearer ${token2}`).send(PING)).status).toBe(200);
    const t3 = app(opaqueOptions(as));
    expect((await request(t3.app).post('/mcp').set('Authorization', `Bearer ${token2}`).send(PING)).status).toBe(401);
  });

  test('the endpoint is discovered from the issuer metadata when introspection.url is not set', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const t = app(opaqueOptions(as, {}, { discover: true }));
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(200);
    expect(as.counts.discovery).toBe(1);
    expect(as.counts.introspection).toBe(1);
  });

  test('members sent as null count as absent (iss, exp, nbf, token_type)', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now(), { iss: null, exp: null, nbf: null, token_type: null }) });
    const t = app(opaqueOptions(as));
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  });

  test('without aud it is refused by default and accepted with requireAudience: false', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now(), { aud: undefined }) });
    const strict = app(opaqueOptions(as));
    const res = await request(strict.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(401);
    expect(res.body.error.data.error).toBe('invalid_token');
    await expect(strict.guard.verify(token)).rejects.toMatchObject({ reason: 'audience_mismatch' });
    expect(strict.calls()).toBe(0);

    const lax = app(opaqueOptions(as, { introspection: { ...RS_CLIENT, requireAudience: false } }));
    expect((await request(lax.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    expect(lax.calls()).toBe(1);
  });
});

describe('answers that are the token\'s fault: 401 invalid_token, handler not run', () => {
  const cases: [string, (n: number) => Record<string, unknown>, string][] = [
    ['inactive', () => ({ active: false }), 'token_inactive'],
    ['unknown token (active false, nothing else)', () => ({ active: false }), 'token_inactive'],
    ['foreign aud', (n) => activeAnswer(as, n, { aud: 'https://other.example/mcp' }), 'audience_mismatch'],
    ['foreign aud array', (n) => activeAnswer(as, n, { aud: ['https://a.example', 'https://b.example'] }), 'audience_mismatch'],
    ['wrong iss', (n) => activeAnswer(as, n, { iss: 'https://evil.example' }), 'issuer_mismatch'],
    ['past exp', (n) => activeAnswer(as, n, { exp: n - 3600 }), 'token_expired'],
    ['nbf in the future', (n) => activeAnswer(as, n, { nbf: n + 3600 }), 'token_not_yet_valid'],
    ['token_type=refresh_token', (n) => activeAnswer(as, n, { token_type: 'refresh_token' }), 'type_not_allowed'],
    ['token_type=urn:…:refresh_token', (n) => activeAnswer(as, n, { token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 'type_not_allowed'],
  ];
  test.each(cases)('%s', async (_name, answer, reason) => {
    const token = opaqueToken();
    as.introspect = () => ({ body: answer(now()) });
    const t = app(opaqueOptions(as));
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 9, method: 'ping' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="/);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 9, error: { data: { code: 'UNAUTHORIZED', error: 'invalid_token' } } });
    expect(t.calls()).toBe(0);
    expectNoTokenMaterial(res, token);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', reason });
    expect(as.counts.introspection).toBe(1); // the second look was answered by the negative cache
  });

});

describe("a malformed answer is the authorization server's fault: 503, never a (cached) 401", () => {
  const cases: [string, (n: number) => Record<string, unknown> | string][] = [
    ['aud of the wrong type', (n) => activeAnswer(as, n, { aud: 42 })],
    ['aud array with a non-string', (n) => activeAnswer(as, n, { aud: [RESOURCE, 7] })],
    ['exp not a number', (n) => activeAnswer(as, n, { exp: String(n + 600) })],
    ['an exp of 1e400 (Infinity once parsed)', () => `{"active":true,"iss":${JSON.stringify(as.issuer)},"aud":${JSON.stringify(RESOURCE)},"exp":1e400}`],
    ['iat not a number', (n) => activeAnswer(as, n, { iat: 'yesterday' })],
    ['iss not a string', (n) => activeAnswer(as, n, { iss: 1 })],
    ['token_type not a string', (n) => activeAnswer(as, n, { token_type: ['access_token'] })],
    ['malformed scope (array with a number)', (n) => activeAnswer(as, n, { scope: ['mcp', 3] })],
    ['scope as a number', (n) => activeAnswer(as, n, { scope: 5 })],
  ];
  test.each(cases)('%s', async (_name, answer) => {
    const token = opaqueToken();
    const events: GuardEvent[] = [];
    as.introspect = () => (typeof answer(now()) === 'string' ? { headers: { 'content-type': 'application/json' }, body: answer(now()) as string } : { body: answer(now()) as Record<string, unknown> });
    const t = app(opaqueOptions(as, { onEvent: (e) => events.push(e) }));
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(503);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(res.body.error.data.code).toBe('AUTH_UNAVAILABLE');
    expect(events).toContainEqual({ type: 'introspection_failed', url: as.introspectionUrl, reason: 'invalid_response' });
    expect(t.calls()).toBe(0);
    expectNoTokenMaterial(res, token);
    // Not cached: once the server answers properly, the same token passes.
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    expect(as.counts.introspection).toBe(2);
  });
});

describe('the request the endpoint sees', () => {
  test('client_secret_basic by default, token_type_hint=access_token, the whole token', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const t = app(opaqueOptions(as));
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    expect(as.introspectionRequests).toHaveLength(1);
    const r = as.introspectionRequests[0]!;
    expect(r.token).toBe(token);
    expect(r.body.get('token_type_hint')).toBe('access_token');
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    const [scheme, b64] = (r.authorization ?? '').split(' ');
    expect(scheme).toBe('Basic');
    const [id, secret] = Buffer.from(b64 ?? '', 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
    expect({ id, secret }).toEqual({ id: RS_CLIENT.clientId, secret: RS_CLIENT.clientSecret });
    expect(r.body.has('client_secret')).toBe(false);
  });

  test('client_secret_post puts the credentials in the form, not in a header', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const t = app(opaqueOptions(as, { introspection: { ...RS_CLIENT, authMethod: 'client_secret_post' } }));
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    const r = as.introspectionRequests[0]!;
    expect(r.authorization).toBeUndefined();
    expect(r.body.get('client_id')).toBe(RS_CLIENT.clientId);
    expect(r.body.get('client_secret')).toBe(RS_CLIENT.clientSecret);
    expect(r.body.get('token_type_hint')).toBe('access_token');
    expect(r.token).toBe(token);
  });
});

describe("tokenFormat 'auto'", () => {
  const sign = () => tokenBuilder({ issuer: as.issuer, audience: RESOURCE });

  test('a JWS-shaped token never reaches introspection, even when its signature fails', async () => {
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const t = app(opaqueOptions(as, { tokenFormat: 'auto' }));
    const good = await sign()(key, { scope: 'mcp' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${good}`).send(PING)).status).toBe(200);
    const other = await makeKey('RS256', key.kid); // same kid, other key: the signature fails
    const forged = await sign()(other, { scope: 'mcp' });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${forged}`).send(PING);
    expect(res.status).toBe(401);
    expect(res.body.error.data.error).toBe('invalid_token');
    await expect(t.guard.verify(forged)).rejects.toMatchObject({ reason: 'signature_invalid' });
    expect(as.counts.introspection).toBe(0);
    expect(t.calls()).toBe(1);
  });

  test('an opaque token goes to introspection', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const t = app(opaqueOptions(as, { tokenFormat: 'auto' }));
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    expect(as.counts.introspection).toBe(1);
    expect(as.counts.jwks).toBe(0);
  });

  test.each([[undefined], [null], ['']])('an authorization server that publishes no jwks_uri (%p): every token is introspected (junk JWS → 401, never 503); ready() resolves', async (none) => {
    as.metadata = { jwks_uri: none as unknown as string };
    as.resetCounts();
    try {
      const issued = await sign()(key, { scope: 'mcp' }); // a JWT-format token the server vouches for
      as.introspect = (r) => ({ body: r.token === issued ? activeAnswer(as, now()) : { active: false } });
      const t = app(opaqueOptions(as, { tokenFormat: 'auto' }, { discover: true }));
      await expect(t.guard.ready()).resolves.toBeUndefined();
      expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${issued}`).send(PING)).status).toBe(200);
      for (const junk of ['eyJhbGciOiJSUzI1NiJ9.e30.AAAA', await sign()(await makeKey('RS256'), { scope: 'mcp' })]) {
        const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${junk}`).send(PING);
        expect({ status: res.status, error: res.body.error.data.error, retryAfter: res.headers['retry-after'] }).toEqual({ status: 401, error: 'invalid_token', retryAfter: undefined });
      }
      expect(as.counts.introspection).toBe(3);
      expect(as.counts.jwks).toBe(0);
      expect(t.calls()).toBe(1);
    } finally {
      as.metadata = {};
    }
  });

  test("'opaque' sends even a JWS-shaped token to introspection", async () => {
    as.introspect = () => ({ body: { active: false } });
    const t = app(opaqueOptions(as));
    const jwt = await sign()(key, { scope: 'mcp' });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${jwt}`).send(PING)).status).toBe(401);
    expect(as.counts.introspection).toBe(1);
    expect(as.counts.jwks).toBe(0);
  });
});

describe('scopes from the introspection answer', () => {
  // Route scopes (protect({ scopes })); tool scopes (toolScopes) are built by the tool-policy work
  // and read the same AuthInfo.scopes.
  test('a route requiring a scope the answer lacks: 403 insufficient_scope; with it: 200', async () => {
    const reader = opaqueToken();
    const writer = opaqueToken();
    as.introspect = (r) => ({ body: activeAnswer(as, now(), { scope: r.token === writer ? 'mcp notes:write' : 'mcp notes:read' }) });
    const t = app(opaqueOptions(as, { requiredScopes: ['mcp'] }), { protect: { scopes: ['notes:write'] } });
    const denied = await request(t.app).post('/mcp').set('Authorization', `Bearer ${reader}`).send(PING);
    expect(denied.status).toBe(403);
    expect(denied.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(denied.headers['www-authenticate']).toMatch(/scope="[^"]*notes:write[^"]*"/);
    expect(denied.body.error.data.code).toBe('FORBIDDEN');
    expectNoTokenMaterial(denied, reader);
    const allowed = await request(t.app).post('/mcp').set('Authorization', `Bearer ${writer}`).send(PING);
    expect(allowed.status).toBe(200);
    expect(t.calls()).toBe(1);
  });

  test('scp (array) is read like scope', async () => {
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, now(), { scope: undefined, scp: ['mcp', 'notes:write'] }) });
    const t = app(opaqueOptions(as), { protect: { scopes: ['notes:write'] } });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  });
});

describe('guard.verify() without Express', () => {
  test('resolves the same AuthInfo and rejects with McpAuthError', async () => {
    const token = opaqueToken();
    as.introspect = (r) => ({ body: r.token === token ? activeAnswer(as, now(), { client_id: undefined, azp: 'azp-client' }) : { active: false } });
    const guard = mcpAuth(opaqueOptions(as));
    open.push(guard);
    const info = await guard.verify(token);
    expect(info.clientId).toBe('azp-client');
    await expect(guard.verify(opaqueToken())).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401, reason: 'token_inactive' });
    await expect(guard.ready()).resolves.toBeUndefined();
  });
});
