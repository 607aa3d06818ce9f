/**
 * Ordinary access tokens of real providers that a mark of another kind of token must not refuse:
 * - authentik: its JWT access token is its ID token plus `azp` and `uid`, with the request's
 *   `nonce` and no `scope` claim (so `nonce` is no ID-token mark);
 * - Keycloak up to 22 and Django OAuth Toolkit: introspection answers for access tokens without
 *   `token_type` (and without `aud` unless a mapper or resource indicator adds it), accepted under
 *   `requireAudience: false`.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);
const post = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

test('authentik JWT access token (code flow with a nonce, no scope claim) is accepted', async () => {
  const clientId = 'Fz8t3kAvL0fW2mXy9q1b';
  const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, audience: clientId } as never);
  fx.track(t);
  const n = now();
  // IDToken.to_dict() + azp + uid: iss, sub, aud, exp, iat, auth_time, acr, amr, nonce, sid, claims of the scope mappings.
  const token = await fx.token(
    {
      aud: clientId, scope: undefined, client_id: undefined, jti: undefined,
      auth_time: n - 5, acr: 'goauthentik.io/providers/oauth2/default', amr: ['pwd'],
      nonce: 'mPq7xWc2', sid: 'f1c2e3d4', email: 'a@example.com', email_verified: true, name: 'A', preferred_username: 'a',
      azp: clientId, uid: 'yX2bq9LkR0pS4tUv6wZa1cDe3fGh5iJk',
    },
    { typ: 'JWT' },
  );
  const res = await post(t, token);
  expect(res.status).toBe(200);
  await expect(t.guard.verify(token)).resolves.toMatchObject({ clientId });
});

test('Keycloak <= 22 introspection answer without aud and token_type (typ Bearer) passes with requireAudience: false', async () => {
  const n = now();
  fx.as.introspect = () => ({
    body: {
      exp: n + 300, iat: n - 5, jti: 'd5a4831d-7236-4686-a17b-784cd8b5805d', iss: fx.as.issuer,
      sub: 'a5461470-33eb-4b2d-82d4-b0484e96ad7f', typ: 'Bearer', azp: 'mcp-client',
      session_state: '96030af2-1e48-4243-ba0b-dd4980c6e8fd', preferred_username: 'john@test.com',
      email_verified: false, acr: '1', scope: 'profile email mcp', client_id: 'mcp-client', username: 'john@test.com', active: true,
    },
  });
  const t = buildApp(opaqueOptions(fx.as, { introspection: { requireAudience: false } as never }));
  fx.track(t);
  const token = opaqueToken();
  const res = await post(t, token);
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
});

test('Django OAuth Toolkit introspection answer (no aud, no token_type) passes with requireAudience: false', async () => {
  const n = now();
  fx.as.introspect = () => ({ body: { active: true, scope: 'read write mcp', exp: n + 300, client_id: 'dot-client', username: 'alice' } });
  const t = buildApp(opaqueOptions(fx.as, { introspection: { requireAudience: false } as never }));
  fx.track(t);
  const res = await post(t, opaqueToken());
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
});
