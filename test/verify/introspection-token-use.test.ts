/**
 * A refresh token presented as a bearer token is refused also when the authorization
 * server names the token kind in `token_use` (Ory Hydra / fosite) rather than in `token_type`.
 *
 * Hydra's introspection handler answers every active token with `token_type: resp.GetAccessTokenType()`
 * ("Bearer", for refresh tokens too), `token_use: "access_token" | "refresh_token"`, and `aud` = the
 * grant's audience (the same for the refresh token as for the access token). fosite's CoreValidator,
 * asked with token_type_hint=access_token, falls back to the refresh-token store when the access-token
 * lookup fails, so a refresh token comes back `active: true`.
 * DESIGN.md: "a `token_type` naming a refresh token is refused"; the guard read only `token_type`.
 */
import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);
beforeEach(() => fx.as.resetCounts());

/** The shape of Hydra's answer (oauth2/handler.go IntrospectHandler) for a refresh token. */
function hydraAnswer(n: number, tokenUse: string): Record<string, unknown> {
  return activeAnswer(fx.as, n, {
    aud: [RESOURCE],
    token_type: 'Bearer',
    token_use: tokenUse,
    nbf: n - 10,
    ext: {},
    username: '',
  });
}

describe('Hydra-style token_use', () => {
  test('token_use=refresh_token with token_type=Bearer and the right aud: 401 type_not_allowed, handler not run, refusal cached', async () => {
    const token = opaqueToken();
    fx.as.introspect = () => ({ body: hydraAnswer(now(), 'refresh_token') });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(401);
    expect(res.body.error.data.code).toBe('UNAUTHORIZED');
    expect(res.body.error.data.error).toBe('invalid_token');
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', reason: 'type_not_allowed' });
    expect(fx.as.counts.introspection).toBe(1);
  });

  test('control: token_use=access_token still passes (the fix must not over-refuse)', async () => {
    const token = opaqueToken();
    fx.as.introspect = () => ({ body: hydraAnswer(now(), 'access_token') });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(200);
    expect(t.calls()).toBe(1);
  });
});

describe('Keycloak-style typ', () => {
  test.each(['Refresh', 'Offline'])('typ=%s (a refresh token) with token_type Bearer and the right aud: 401 type_not_allowed, handler not run', async (typ) => {
    const token = opaqueToken();
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), { aud: [RESOURCE], token_type: 'Bearer', typ }) });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(401);
    expect(t.calls()).toBe(0);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ reason: 'type_not_allowed' });
  });

  test('control: typ=Bearer passes', async () => {
    fx.as.introspect = () => ({ body: activeAnswer(fx.as, now(), { aud: [RESOURCE], token_type: 'Bearer', typ: 'Bearer' }) });
    const t = buildApp(opaqueOptions(fx.as));
    fx.track(t);
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
  });
});
