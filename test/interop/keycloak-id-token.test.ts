/**
 * A Keycloak ID token whose `aud` holds the resource (an Audience mapper with "Add to ID token"
 * on) is refused by its claim `typ: "ID"`; Keycloak access tokens (`typ: "Bearer"`) pass.
 *
 * - Keycloak (README "Recipes › Keycloak"): the recipe adds the resource to `aud` with an
 *   *Audience* mapper; that mapper also has an "Add to ID token" switch, which the recipe does not
 *   many published guides turn on (the recipe says to leave it off). Keycloak marks its ID tokens
 *   with the claim `typ: "ID"` (access tokens: `typ: "Bearer"`), which the guard reads in a JWT
 *   as in an introspection answer.
 *
 * Shapes from the providers' documentation (Keycloak IDToken: claim typ "ID", aud = the client id
 * plus mapper audiences, azp, nonce, at_hash; AccessToken: typ "Bearer").
 * An ID token is an authentication assertion for a client (OIDC Core §2), never an OAuth access
 * token (RFC 9068 §4, RFC 8725 §3.11: a JWT of one kind must not be accepted as another).
 */
import request from 'supertest';
import { SignJWT } from 'jose';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } };

const fx = loopbackJwtSuite(RESOURCE);
const now = () => Math.floor(Date.now() / 1000);

function sign(payload: Record<string, unknown>, header: Record<string, unknown> = { typ: 'JWT' }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: fx.key.kid, ...header }).sign(fx.key.privateKey);
}

describe('Keycloak, README recipe with an Audience mapper that also adds to the ID token', () => {
  function keycloakApp(issuer: string): TestApp {
    const t = buildApp({ resource: RESOURCE, issuer, jwksUri: fx.as.jwksUri });
    fx.track(t);
    return t;
  }
  const kcIssuer = 'https://keycloak.example.com/realms/acme';

  test('control: a Keycloak access token (typ Bearer claim, aud [resource, account], azp, scope) is accepted', async () => {
    const t = keycloakApp(kcIssuer);
    const n = now();
    const at = await sign({
      exp: n + 300, iat: n, auth_time: n, jti: 'onrtac:1', iss: kcIssuer, aud: [RESOURCE, 'account'],
      sub: 'f3c5a0c4', typ: 'Bearer', azp: 'mcp-client', sid: 's1', acr: '1',
      realm_access: { roles: ['offline_access', 'default-roles-acme'] },
      resource_access: { account: { roles: ['manage-account'] } },
      scope: 'openid profile email notes:read', email_verified: true, preferred_username: 'alice',
    });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${at}`).send(INIT);
    expect(res.status).toBe(200);
  });

  test('a Keycloak ID token (claim typ "ID") whose aud names the resource is refused, handler not run', async () => {
    const t = keycloakApp(kcIssuer);
    const n = now();
    const idToken = await sign({
      exp: n + 300, iat: n, auth_time: n, jti: 'ofrtac:2', iss: kcIssuer, aud: ['mcp-client', RESOURCE],
      sub: 'f3c5a0c4', typ: 'ID', azp: 'mcp-client', nonce: 'n-0S6_WzA2Mj', sid: 's1',
      at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', acr: '1', email_verified: true, preferred_username: 'alice',
    });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${idToken}`).send(INIT);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(t.calls()).toBe(0);
  });
});
