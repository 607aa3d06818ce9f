/**
 * Controls. Ordinary tokens of Auth0, Okta, Entra v1, Cognito and
 * Ory Hydra, in their documented shapes, against the README recipes: accepted or refused exactly as
 * the README says (Okta clientId '', Entra app-only roles not scopes, Cognito audience_mismatch).
 */
import request from 'supertest';
import { SignJWT } from 'jose';
import { buildApp, type TestApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };
const CALL = (name: string) => ({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: {} } });
let as: LoopbackAS; let key: TestKey; const open: TestApp[] = [];
const now = () => Math.floor(Date.now() / 1000);
beforeAll(async () => { as = await startLoopbackAS(); key = await makeKey('RS256'); as.keys = [key.publicJwk]; });
afterEach(async () => { for (const t of open.splice(0)) await t.guard.close(); });
afterAll(() => as.close());
const sign = (p: Record<string, unknown>, h: Record<string, unknown> = { typ: 'JWT' }) => new SignJWT(p).setProtectedHeader({ alg: 'RS256', kid: key.kid, ...h }).sign(key.privateKey);
function app(o: Record<string, unknown>): TestApp { const t = buildApp({ resource: RESOURCE, jwksUri: as.jwksUri, ...o } as never); open.push(t); return t; }
async function post(t: TestApp, tok: string, body: object = INIT) { return request(t.app).post('/mcp').set('Authorization', `Bearer ${tok}`).send(body); }

test('auth0 access token aud array + userinfo, trailing slash iss, permissions, gty', async () => {
  const iss = 'https://acme.us.auth0.com/';
  const t = app({ issuer: iss, toolScopes: { list_notes: ['notes:read'] } });
  const n = now();
  const at = await sign({ iss, sub: 'auth0|123', aud: [RESOURCE, 'https://acme.us.auth0.com/userinfo'], iat: n, exp: n + 86400, scope: 'openid profile notes:read', azp: 'cli', permissions: ['notes:read', 'notes:write'] });
  const r = await post(t, at, CALL('list_notes')); expect(r.status).toBe(200);
  const cc = await sign({ iss, sub: 'cli@clients', aud: RESOURCE, iat: n, exp: n + 86400, scope: 'notes:read', gty: 'client-credentials', azp: 'cli' });
  const r2 = await post(t, cc, CALL('list_notes')); expect(r2.status).toBe(200);
  expect((t.lastAuth() as { clientId: string }).clientId).toBe('cli');
  const idt = await sign({ iss, sub: 'auth0|123', aud: 'cli', iat: n, exp: n + 36000, nonce: 'x', sid: 's' });
  const r3 = await post(t, idt); expect(r3.status).toBe(401);
  // RFC 9068 profile header
  const at9 = await sign({ iss, sub: 'auth0|123', aud: RESOURCE, iat: n, exp: n + 600, scope: 'notes:read', client_id: 'cli', jti: 'j' }, { typ: 'at+jwt' });
  expect((await post(t, at9, CALL('list_notes'))).status).toBe(200);
});

test('okta custom AS: scp array, cid, no typ header', async () => {
  const iss = 'https://acme.okta.com/oauth2/default';
  const t = app({ issuer: iss, toolScopes: { list_notes: ['notes:read'] } });
  const n = now();
  const at = await sign({ ver: 1, jti: 'AT.x', iss, aud: RESOURCE, iat: n, exp: n + 3600, cid: '0oa1', uid: '00u1', scp: ['openid', 'notes:read'], auth_time: n, sub: 'a@b.c' }, {});
  const r = await post(t, at, CALL('list_notes')); expect(r.status).toBe(200);
  expect((t.lastAuth() as { clientId: string }).clientId).toBe('');
  const idt = await sign({ sub: '00u1', ver: 1, iss, aud: '0oa1', iat: n, exp: n + 3600, jti: 'ID.x', amr: ['pwd'], idp: '00o', at_hash: 'x', auth_time: n }, {});
  expect((await post(t, idt)).status).toBe(401);
});

test('entra v1: sts issuer, api:// aud, appid; app-only roles', async () => {
  const tid = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const iss = `https://sts.windows.net/${tid}/`;
  const t = app({ issuer: iss, audience: 'api://11111111-1111-1111-1111-111111111111', toolScopes: { list_notes: ['notes.read'] } });
  const n = now();
  const at = await sign({ aud: 'api://11111111-1111-1111-1111-111111111111', iss, iat: n, nbf: n, exp: n + 3600, acr: '1', aio: 'x', amr: ['pwd'], appid: 'aaaa', appidacr: '0', idp: iss, ipaddr: '1.2.3.4', name: 'A', oid: 'o', scp: 'notes.read', sub: 's', tid, unique_name: 'a@b', upn: 'a@b', uti: 'u', ver: '1.0' }, { typ: 'JWT', x5t: 'abc' });
  const r = await post(t, at, CALL('list_notes')); expect(r.status).toBe(200);
  expect((t.lastAuth() as { clientId: string }).clientId).toBe('aaaa');
  const app1 = await sign({ aud: 'api://11111111-1111-1111-1111-111111111111', iss, iat: n, nbf: n, exp: n + 3600, appid: 'daemon', appidacr: '1', idp: iss, idtyp: 'app', oid: 'o', roles: ['notes.read'], sub: 'o', tid, ver: '1.0' }, { typ: 'JWT', x5t: 'abc' });
  const r2 = await post(t, app1, CALL('list_notes')); expect(r2.status).toBe(403);
});

test('cognito access and id tokens', async () => {
  const iss = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';
  const t = app({ issuer: iss });
  const n = now();
  const at = await sign({ sub: 's', 'cognito:groups': ['g'], iss, version: 2, client_id: 'appclient', origin_jti: 'o', token_use: 'access', scope: 'https://mcp.example.com/notes.read', auth_time: n, exp: n + 3600, iat: n, jti: 'j', username: 'u' }, {});
  const r = await post(t, at); expect(r.status).toBe(401);
  const g: unknown = await t.guard.verify(at).catch((e: unknown) => e); expect((g as { reason?: string }).reason).toBe('audience_mismatch');
});

test('hydra jwt access token: scp array, client_id, empty aud refused, ext', async () => {
  const iss = 'https://hydra.example.com/';
  const t = app({ issuer: iss, toolScopes: { list_notes: ['notes:read'] } });
  const n = now();
  const at = await sign({ aud: [RESOURCE], client_id: 'c', exp: n + 3600, ext: {}, iat: n, iss, jti: 'j', nbf: n, scp: ['notes:read'], sub: 's' }, { typ: 'JWT' });
  expect((await post(t, at, CALL('list_notes'))).status).toBe(200);
  const noaud = await sign({ aud: [], client_id: 'c', exp: n + 3600, ext: {}, iat: n, iss, jti: 'j', nbf: n, scp: ['notes:read'], sub: 's' }, { typ: 'JWT' });
  expect((await post(t, noaud)).status).toBe(401);
});
