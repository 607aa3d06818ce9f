/**
 * Only bearer access tokens pass, by the marks other kinds of token carry, on the JWT path as on
 * the introspection path (the audience check stops most of them first; these catch an
 * authorization server configured to give them this resource's audience): OpenID Connect's
 * `at_hash`/`c_hash`/`s_hash`; Keycloak's `typ` `ID`/`Refresh`/`Offline`/`Logout`; a `token_use`
 * other than access (Cognito's `id`, Hydra's `refresh_token`); and tokens bound to a key (`cnf`,
 * `token_type: DPoP`, below). Controls: `nonce` is no mark (Keycloak before 25 and authentik put it
 * in access tokens, authentik's without `scope`); Cognito access tokens say `token_use: access`;
 * Keycloak access tokens `typ: Bearer`.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);
const post = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

const REFUSED: [string, Record<string, unknown>][] = [
  ['at_hash (an OIDC ID token)', { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }],
  ['c_hash', { c_hash: 'LDktKdoQak3Pk0cnXxCltA' }],
  ['s_hash', { s_hash: 'ub5ZbN5vWG1Fw7sXMJ5Kiw' }],
  ['Keycloak typ ID', { typ: 'ID' }],
  ['Keycloak typ Refresh', { typ: 'Refresh' }],
  ['Keycloak typ Offline', { typ: 'Offline' }],
  ['Keycloak typ Logout', { typ: 'Logout' }],
  ['Cognito token_use id', { token_use: 'id' }],
  ['token_use refresh_token', { token_use: 'refresh_token' }],
];
const ACCEPTED: [string, Record<string, unknown>][] = [
  ['Keycloak < 25: nonce beside scope', { nonce: 'n-0S6_WzA2Mj', scope: 'openid mcp' }],
  ['Entra: nonce beside scp', { nonce: 'n-0S6_WzA2Mj', scope: undefined, scp: 'notes.read' }],
  ['authentik: nonce and no scope claim (its access tokens are its ID token plus azp and uid)', { nonce: 'n-0S6_WzA2Mj', scope: undefined, azp: 'c', uid: 'u' }],
  ['Cognito access token: token_use access', { token_use: 'access' }],
  ['Keycloak access token: typ Bearer', { typ: 'Bearer' }],
];

describe('JWT', () => {
  test.each(REFUSED)('%s: 401 type_not_allowed, handler not run', async (_label, claims) => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    fx.track(t);
    const token = await fx.token(claims);
    const res = await post(t, token);
    expect(res.status).toBe(401);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ status: 401, reason: 'type_not_allowed' });
  });

  test.each(ACCEPTED)('control: %s passes', async (_label, claims) => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    fx.track(t);
    expect((await post(t, await fx.token(claims))).status).toBe(200);
  });
});

describe('introspection', () => {
  test.each(REFUSED)('%s: 401 type_not_allowed, handler not run', async (_label, extra) => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), extra) });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    const token = opaqueToken();
    expect((await post(t, token)).status).toBe(401);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ status: 401, reason: 'type_not_allowed' });
  });

  test.each(ACCEPTED)('control: %s passes', async (_label, extra) => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), extra) });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    expect((await post(t, opaqueToken())).status).toBe(200);
  });
});

// Tokens bound to a key (RFC 7800 `cnf`: DPoP's `jkt`, RFC 9449; mTLS's `x5t#S256`, RFC 8705; an
// introspection `token_type` of `DPoP`): the proof of possession cannot be checked here, and taking
// them for bearer tokens would let whoever holds a copy use them (RFC 9449 §7.2). `cnf: null`
// counts as absent.
describe('bound to a key, JWT', () => {
  test.each([
    ['DPoP (cnf.jkt)', { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }],
    ['mTLS (cnf.x5t#S256)', { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }],
    ['a confirmation key (cnf.jwk)', { cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' } } }],
  ])('a token bound to a key, %s: 401 type_not_allowed, handler not run', async (_label, claims) => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    fx.track(t);
    const token = await fx.token(claims);
    const res = await post(t, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ status: 401, reason: 'type_not_allowed' });
  });

  test('control: cnf null counts as absent, and a token without cnf passes', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri });
    fx.track(t);
    expect((await post(t, await fx.token({ cnf: null }))).status).toBe(200);
    expect((await post(t, await fx.token())).status).toBe(200);
    expect(t.calls()).toBe(2);
  });
});

describe('bound to a key, introspection', () => {
  test.each([
    ['token_type DPoP', { token_type: 'DPoP' }],
    ['token_type dpop (case)', { token_type: 'dpop' }],
    ['cnf.jkt with token_type Bearer', { token_type: 'Bearer', cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }],
    ['cnf.x5t#S256', { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }],
  ])('an answer for a token bound to a key, %s: 401 type_not_allowed, handler not run', async (_label, extra) => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), extra) });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
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
    fx.track(t);
    expect((await post(t, opaqueToken())).status).toBe(200);
  });
});
