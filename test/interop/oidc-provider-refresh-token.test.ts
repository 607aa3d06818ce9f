/**
 * `oidc-provider`, asked with `token_type_hint=access_token` about a refresh token presented as a
 * bearer token, falls back to its refresh tokens and answers `active: true` with neither `aud` nor
 * `token_type` (nothing marks it as a refresh token). With `aud` required (the default) it is
 * refused; `introspection.requireAudience: false` accepts any active token the server issued, this
 * one included, as the README says (a rule requiring `token_type: Bearer` there was tried and
 * dropped: Keycloak up to 22 and Django OAuth Toolkit send no `token_type` for access tokens).
 *
 * `oidc-provider` (the demo's authorization server, `node_modules/oidc-provider`):
 * - `lib/helpers/token_find.js`: access tokens, client-credentials tokens, then refresh tokens
 *   (RFC 7662 §2.1 allows this).
 * - `lib/actions/introspection.js`: a refresh token's answer has `token_type: undefined` and no
 *   `aud` (a RefreshToken keeps `resource`); access tokens always get `token_type`.
 */
import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);
beforeEach(() => fx.as.resetCounts());

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
    iss: fx.as.issuer,
    scope: 'openid offline_access notes:read',
    token_type: kind === 'RefreshToken' ? undefined : 'Bearer',
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  return body;
}

// The access token (control), and the refresh token: what the README says "any active token" means.
test.each(['AccessToken', 'RefreshToken'] as const)('with requireAudience: false, an oidc-provider answer for its %s (no aud) passes', async (kind) => {
  fx.as.introspect = () => ({ body: oidcProviderAnswer(kind) });
  const t = buildApp(opaqueOptions(fx.as, { introspection: { requireAudience: false } as never }));
  fx.track(t);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(200);
});

test('an oidc-provider refresh token (answer without aud or token_type) is refused with aud required (the default): 401 invalid_token, handler not run', async () => {
  fx.as.introspect = () => ({ body: oidcProviderAnswer('RefreshToken') });
  const t = buildApp(opaqueOptions(fx.as));
  fx.track(t);
  const token = opaqueToken();
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(fx.as.introspectionRequests[0]?.body.get('token_type_hint')).toBe('access_token');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  expect(t.calls()).toBe(0);
});

