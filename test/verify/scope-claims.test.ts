/**
 * `scopeClaims`: the claims a token's scopes are read from, together. Entra ID puts application
 * permissions (app-only tokens) in `roles` and no `scp`; Auth0 RBAC puts permissions in a
 * `permissions` array. With the default (`scope`, else `scp`) such tokens hold no scope; named in
 * `scopeClaims`, those values count as scopes for every check (route, tool, 403 scope=), from JWTs
 * and introspection answers alike. A claim of the wrong type is the token's fault (401) in a JWT,
 * the server's (503) in an introspection answer.
 */
import request from 'supertest';
import { fromEnv, mcpAuth, type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const TOOLS = { delete_note: ['notes.write'], '*': [] };
const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

function app(extra: Partial<Options> = {}): TestApp {
  return fx.track(buildApp({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: TOOLS, ...extra }));
}
const send = async (t: TestApp, claims: Record<string, unknown>, body: object = call('delete_note')) =>
  request(t.app).post('/mcp').set('Authorization', `Bearer ${await fx.token(claims)}`).send(body);

test('an Entra app-only token (roles, no scp): refused by default, allowed with scopeClaims ["scp", "roles"]', async () => {
  const claims = { scope: undefined, roles: ['notes.write'] };
  const plain = app();
  const refused = await send(plain, claims);
  expect(refused.status).toBe(403);
  expect(refused.headers['www-authenticate']).toContain('scope="notes.write"');
  const withRoles = app({ scopeClaims: ['scp', 'roles'] });
  expect((await send(withRoles, claims)).status).toBe(200);
  expect((withRoles.lastAuth() as { scopes: string[] }).scopes).toEqual(['notes.write']);
  expect(plain.calls()).toBe(0);
});

test('Auth0 RBAC: scope and permissions together; route scopes and the 403 see both', async () => {
  const t = app({ scopeClaims: ['scope', 'permissions'], requiredScopes: ['mcp'] });
  expect((await send(t, { scope: 'mcp', permissions: ['notes.write'] })).status).toBe(200);
  expect((t.lastAuth() as { scopes: string[] }).scopes).toEqual(['mcp', 'notes.write']);
  const denied = await send(t, { scope: 'notes.write', permissions: [] });
  expect(denied.status).toBe(403);
  expect(denied.headers['www-authenticate']).toContain('scope="mcp notes.write"');
});

test('only the claims named: scope no longer read when left out, scp and scope both read when named', async () => {
  const rolesOnly = app({ scopeClaims: ['roles'] });
  expect((await send(rolesOnly, { scope: 'notes.write' })).status).toBe(403);
  const both = app({ scopeClaims: ['scope', 'scp'] });
  expect((await send(both, { scope: 'mcp', scp: ['notes.write'] })).status).toBe(200);
  expect((both.lastAuth() as { scopes: string[] }).scopes).toEqual(['mcp', 'notes.write']);
});

test('control: by default scope wins over scp (unchanged)', async () => {
  const t = app();
  expect((await send(t, { scope: 'mcp', scp: ['notes.write'] })).status).toBe(403);
});

test('a named claim of the wrong type: 401 claim_invalid, the handler not run', async () => {
  const t = app({ scopeClaims: ['scp', 'roles'] });
  for (const roles of [{ a: 1 }, [1], 7]) {
    const res = await send(t, { roles });
    expect(res.status).toBe(401);
    expect(res.body.error.data.error_description).toBe('The access token roles claim is malformed');
  }
  expect(t.calls()).toBe(0);
});

describe('introspection', () => {
  let as: LoopbackAS;
  beforeAll(async () => { as = await startLoopbackAS(); });
  afterAll(async () => { await as.close(); });

  test('an answer\'s named claims count as scopes; one of the wrong type is the server\'s fault (503)', async () => {
    const t = fx.track(buildApp(opaqueOptions(as, { scopeClaims: ['scope', 'roles'], requiredScopes: ['notes.write'] })));
    as.introspect = () => ({ body: activeAnswer(as, Math.floor(Date.now() / 1000), { scope: 'mcp', roles: ['notes.write'] }) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
    as.introspect = () => ({ body: activeAnswer(as, Math.floor(Date.now() / 1000), { roles: { x: 1 } }) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(503);
  });
});

test('options: a non-empty list of claim names, none that carries no permission; MCP_AUTH_SCOPE_CLAIMS', () => {
  const problems = (v: unknown): readonly string[] => {
    try {
      mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', scopeClaims: v } as Options);
      return [];
    } catch (err) {
      return (err as { problems: readonly string[] }).problems;
    }
  };
  expect(problems([])).toEqual([expect.stringMatching(/^scopeClaims must not be empty/)]);
  expect(problems(['roles', 'sub'])).toEqual(['scopeClaims: "sub" carries no permission and cannot be read as scopes']);
  expect(problems('roles')).toEqual([expect.stringMatching(/^scopeClaims must be an array/)]);
  expect(fromEnv({ MCP_AUTH_SCOPE_CLAIMS: 'scp, roles' }).scopeClaims).toEqual(['scp', 'roles']);
});
