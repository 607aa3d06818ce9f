/**
 * Checklist 11 (MCP 2025-11-25): every 401 carries `scope=`, the bad-token 401 as well as the
 * no-token one (a client re-authorizing after an expired or wrong-audience token takes its scopes
 * from that challenge). And JSON-RPC 2.0 §5: an error's id is the id of the Request Object, so the
 * id of a posted *response* (the client answering a server request) is not echoed.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { parseChallenge } from '../helpers/challenge.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 7, method: 'ping' };
let as: LoopbackAS;
let key: TestKey;
let sign: ReturnType<typeof tokenBuilder>;
let t: TestApp;
beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp'], scopesSupported: ['mcp', 'admin', 'files:write'] });
});
afterAll(async () => { await t.guard.close(); await as.close(); });

test('control: the no-credentials 401 carries the base scope', async () => {
  const res = await request(t.app).post('/mcp').send(PING);
  expect(res.status).toBe(401);
  expect(parseChallenge(res.headers['www-authenticate']).params.scope).toBe('mcp');
});

test.each([
  ['expired', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }],
  ['wrong audience', { aud: 'http://127.0.0.1:9/other' }],
])('a 401 invalid_token (%s) carries the same scope= as the first 401', async (_label, claims) => {
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key, claims)}`).send(PING);
  expect(res.status).toBe(401);
  const c = parseChallenge(res.headers['www-authenticate']);
  expect(c.params.error).toBe('invalid_token');
  expect(c.params.scope).toBe('mcp');
});

// A response's id belongs to the server's id space: echoed, it would name one of the client's own requests.
test.each([
  ['a result response', { jsonrpc: '2.0', id: 5, result: {} }],
  ['an error response', { jsonrpc: '2.0', id: 5, error: { code: -1, message: 'declined' } }],
])('the id of %s is not echoed as if it were a request id', async (_label, body) => {
  const res = await request(t.app).post('/mcp').send(body);
  expect(res.status).toBe(401);
  expect(res.body.id).toBeNull();
});

test('control: the id of a request is echoed', async () => {
  expect((await request(t.app).post('/mcp').send(PING)).body.id).toBe(7);
});
