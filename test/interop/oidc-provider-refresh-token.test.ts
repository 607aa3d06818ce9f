/**
 * With `introspection.requireAudience: false` (a documented option), an `oidc-provider` refresh
 * token presented as a bearer token is refused: an answer without `aud` must say `token_type: Bearer`.
 *
 * `oidc-provider` (the demo's authorization server, `node_modules/oidc-provider`):
 * - `lib/helpers/token_find.js`: asked with `token_type_hint=access_token` (what the guard sends),
 *   it looks up access tokens and client-credentials tokens, then falls back to refresh tokens
 *   (RFC 7662 §2.1 allows this).
 * - `lib/actions/introspection.js`: the answer for a refresh token is `active: true`, `client_id`,
 *   `exp`, `iat`, `iss`, `scope`, `sub`, `sid`, and `token_type: undefined`
 *   (`token.kind !== 'RefreshToken' ? token.tokenType : undefined`); `aud` is `token.aud`, which a
 *   RefreshToken does not have (it keeps `resource`). Access tokens always get `token_type`
 *   (`Bearer` or `DPoP`).
 * With `aud` required, the audience check stops this answer; with `requireAudience: false` (for a
 * server that leaves `aud` out, as oidc-provider does for opaque tokens without a resource
 * indicator), the answer must name `token_type: Bearer`. A refresh token must never be accepted by a resource
 * server (RFC 6749 §1.5, OAuth 2.1 §1.3.2; DESIGN.md: "a token_type naming a refresh token is
 * refused"): it outlives access tokens by days and escapes rotation and sender binding.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';

let as: LoopbackAS;
const open: TestApp[] = [];
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  as = await startLoopbackAS();
});
beforeEach(() => as.resetCounts());
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

/** oidc-provider 9's introspection answer, as built in lib/actions/introspection.js. */
function oidcProviderAnswer(kind: 'AccessToken' | 'RefreshToken'): Record<string, unknown> {
  const n = now();
  const body: Record<string, unknown> = {
    active: true,
    sub: 'demo-user',
    client_id: 'mcp-client',
    exp: n + (kind === 'RefreshToken' ? 14 * 86400 : 600),
    iat: n - 5,
    sid: 'sess-1',
    iss: as.issuer,
    scope: 'openid offline_access notes:read',
    token_type: kind === 'RefreshToken' ? undefined : 'Bearer',
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

test('control: an oidc-provider opaque access token without aud passes with requireAudience: false', async () => {
  as.introspect = () => ({ body: oidcProviderAnswer('AccessToken') });
  const t = buildApp(opaqueOptions(as, { introspection: { requireAudience: false } as never }));
  open.push(t);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(200);
});

test('an oidc-provider refresh token (answer without token_type) is refused: 401 invalid_token, handler not run', async () => {
  as.introspect = () => ({ body: oidcProviderAnswer('RefreshToken') });
  const t = buildApp(opaqueOptions(as, { introspection: { requireAudience: false } as never }));
  open.push(t);
  const token = opaqueToken();
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(as.introspectionRequests[0]?.body.get('token_type_hint')).toBe('access_token');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  expect(t.calls()).toBe(0);
});
