/**
 * A token bound to a key is no bearer token. With `cnf` (RFC 7800: DPoP's `jkt`, RFC 9449; mTLS's
 * `x5t#S256`, RFC 8705) in a JWT or an introspection answer, or an introspection `token_type` of
 * `DPoP`, the guard cannot check the proof of possession, and taking the token as a bearer token
 * would let whoever holds a copy use it (RFC 9449 §7.2: a DPoP-bound token received as a bearer
 * token is rejected). 401 `invalid_token` (`type_not_allowed`), handler not run; `cnf: null`
 * counts as absent, as other null members do.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';

const fx = loopbackJwtSuite(RESOURCE);
const open: TestApp[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
const now = () => Math.floor(Date.now() / 1000);
const post = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

describe('JWT', () => {
  test.each([
    ['DPoP (cnf.jkt)', { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }],
    ['mTLS (cnf.x5t#S256)', { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }],
    ['a confirmation key (cnf.jwk)', { cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' } } }],
  ])('a token bound to a key, %s: 401 type_not_allowed, handler not run', async (_label, claims) => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    open.push(t);
    const token = await fx.token(claims);
    const res = await post(t, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ status: 401, reason: 'type_not_allowed' });
  });

  test('control: cnf null counts as absent, and a token without cnf passes', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    open.push(t);
    expect((await post(t, await fx.token({ cnf: null }))).status).toBe(200);
    expect((await post(t, await fx.token())).status).toBe(200);
    expect(t.calls()).toBe(2);
  });
});

describe('introspection', () => {
  test.each([
    ['token_type DPoP', { token_type: 'DPoP' }],
    ['token_type dpop (case)', { token_type: 'dpop' }],
    ['cnf.jkt with token_type Bearer', { token_type: 'Bearer', cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }],
    ['cnf.x5t#S256', { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }],
  ])('an answer for a token bound to a key, %s: 401 type_not_allowed, handler not run', async (_label, extra) => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), extra) });
    const t = buildApp(opaqueOptions(fx.as));
    open.push(t);
    const token = opaqueToken();
    const res = await post(t, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ status: 401, reason: 'type_not_allowed' });
  });

  test('control: token_type Bearer without cnf passes', async () => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), { token_type: 'Bearer', cnf: null }) });
    const t = buildApp(opaqueOptions(fx.as));
    open.push(t);
    expect((await post(t, opaqueToken())).status).toBe(200);
  });
});
