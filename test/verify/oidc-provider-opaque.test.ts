/**
 * End to end with a real oidc-provider: opaque access tokens (resource indicators with
 * `accessTokenFormat: 'opaque'`), introspected by its confidential resource-server client, the
 * introspection endpoint discovered from the issuer.
 */
import request from 'supertest';
import type { Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { expectNoTokenMaterial, opaqueToken, PING } from '../helpers/opaque.js';

const MCP = 'http://127.0.0.1:8123/mcp';
const OTHER = 'http://127.0.0.1:8124/api';
const JWT_RESOURCE = 'http://127.0.0.1:8125/mcp';
let op: TestProvider;
const open: TestApp[] = [];

function app(extra: Partial<Options> = {}, resource = MCP): TestApp {
  const t = buildApp({ resource, issuer: op.issuer, tokenFormat: 'opaque', introspection: { ...op.introspectionClient }, ...extra }, { protect: { scopes: ['notes:read'] } });
  open.push(t);
  return t;
}
const call = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

beforeAll(async () => {
  op = await startTestProvider({
    [MCP]: { format: 'opaque', scope: 'mcp notes:read' },
    [OTHER]: { format: 'opaque', scope: 'mcp notes:read' },
    [JWT_RESOURCE]: { format: 'jwt', scope: 'mcp notes:read' },
  });
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => op.close());

describe('opaque access tokens from a real oidc-provider', () => {
  test.each(['opaque', 'auto'] as const)("tokenFormat '%s': a token for this resource passes, one for another resource (aud) and an unknown one are refused", async (tokenFormat) => {
    const t = app({ tokenFormat });
    const good = await op.getToken(MCP, 'mcp notes:read');
    expect(good).not.toContain('.');
    const ok = await call(t, good);
    expect(ok.status).toBe(200);
    const auth = t.lastAuth() as { clientId: string; scopes: string[]; expiresAt: number; extra: Record<string, unknown> };
    expect(auth.clientId).toBe('test-cc-client');
    expect([...auth.scopes].sort()).toEqual(['mcp', 'notes:read']);
    expect(auth.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(auth.extra.iss).toBe(op.issuer);

    const foreign = await op.getToken(OTHER, 'mcp notes:read');
    const bad = await call(t, foreign);
    expect(bad.status).toBe(401);
    expect(bad.body.error.data.error).toBe('invalid_token');
    await expect(t.guard.verify(foreign)).rejects.toMatchObject({ reason: 'audience_mismatch' });
    expectNoTokenMaterial(bad, foreign);

    const unknown = opaqueToken();
    const none = await call(t, unknown);
    expect(none.status).toBe(401);
    await expect(t.guard.verify(unknown)).rejects.toMatchObject({ reason: 'token_inactive' });
    expect(t.calls()).toBe(1);
  });

  test("'auto' sends the provider's JWT access tokens (another resource server) to JWT validation", async () => {
    const t = app({ tokenFormat: 'auto' }, JWT_RESOURCE);
    const jwt = await op.getToken(JWT_RESOURCE, 'mcp notes:read');
    expect(jwt.split('.')).toHaveLength(3);
    expect((await call(t, jwt)).status).toBe(200);
  });

  test('a revoked token: accepted while cached (the revocation window), refused once the entry expires', async () => {
    const clock = fakeClock(Date.now());
    const t = app({ clock, cacheMaxAgeSeconds: 60 });
    const token = await op.getToken(MCP, 'mcp notes:read');
    expect((await call(t, token)).status).toBe(200);
    await op.revoke(token);
    expect((await call(t, token)).status).toBe(200); // cached: no new introspection yet
    clock.advance(60_001);
    const res = await call(t, token);
    expect(res.status).toBe(401);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ reason: 'token_inactive' });
    expect(t.calls()).toBe(2);
  });

  test('a revoked token never seen before is refused at once', async () => {
    const t = app();
    const token = await op.getToken(MCP, 'mcp notes:read');
    await op.revoke(token);
    expect((await call(t, token)).status).toBe(401);
  });

  test('wrong resource-server credentials: 500 AUTH_MISCONFIGURED, never 401', async () => {
    const t = app({ introspection: { clientId: op.introspectionClient.clientId, clientSecret: 'not-the-secret' } });
    const token = await op.getToken(MCP, 'mcp notes:read');
    const res = await call(t, token);
    expect(res.status).toBe(500);
    expect(res.body.error.data.code).toBe('AUTH_MISCONFIGURED');
    expect(t.calls()).toBe(0);
  });

  test('client_secret_post is accepted by the provider too', async () => {
    const t = app({ introspection: { ...op.introspectionClient, authMethod: 'client_secret_post' } });
    expect((await call(t, await op.getToken(MCP, 'mcp notes:read'))).status).toBe(200);
  });
});
