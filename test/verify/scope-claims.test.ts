/**
 * `scopeClaims`: the claims a token's scopes are read from, in order, the first the token carries
 * being used. Entra ID puts application permissions (app-only tokens) in `roles`, with no `scp`:
 * with `['scp', 'roles']` those count as scopes for every check (route, tool, 403 scope=), from
 * JWTs and introspection answers alike. A delegated token keeps its `scp`: the user's roles (or,
 * with Auth0 RBAC, the user's `permissions`) it may carry too are not its client's grant, and are
 * never added to it. A claim of the wrong type is the token's fault (401) in a JWT, the server's
 * (503) in an introspection answer. Claims that carry no permission cannot be named.
 */
import request from 'supertest';
import { runCheck } from '../../lib/cli/check.js';
import { scopesOf } from '../../lib/verify/claims.js';
import { fromEnv, type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { configProblems } from '../helpers/config.js';
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

test('a delegated token keeps its grant: the user\'s roles or permissions beside scp / scope are not read, nor named in a 403', async () => {
  const entra = app({ scopeClaims: ['scp', 'roles'] });
  const delegated = await send(entra, { scope: undefined, scp: 'notes.read', roles: ['notes.write', 'Admin'] });
  expect(delegated.status).toBe(403);
  expect(delegated.headers['www-authenticate']).toContain('scope="notes.write"');
  expect(delegated.headers['www-authenticate']).not.toContain('Admin');
  const auth0 = app({ scopeClaims: ['scope', 'permissions'] });
  expect((await send(auth0, { scope: 'notes.read', permissions: ['notes.read', 'notes.write'] })).status).toBe(403);
  expect(entra.calls() + auth0.calls()).toBe(0);
});

test('in order: the first claim the token carries, null included (then no scope); the rest not read', async () => {
  const t = app({ scopeClaims: ['scope', 'scp'] });
  expect((await send(t, { scope: 'mcp', scp: ['notes.write'] })).status).toBe(403);
  expect((await send(t, { scope: null, scp: ['notes.write'] })).status).toBe(403);
  expect((await send(t, { scope: undefined, scp: ['notes.write'] })).status).toBe(200);
  const rolesOnly = app({ scopeClaims: ['roles'] });
  expect((await send(rolesOnly, { scope: 'notes.write' })).status).toBe(403);
});

test('only the token\'s own claims are read: an inherited scope (a polluted prototype) is not', () => {
  const claims = Object.assign(Object.create({ scope: 'inherited' }) as Record<string, unknown>, { scp: ['own'] });
  expect(scopesOf(claims)).toEqual(['own']);
  expect(scopesOf(Object.create({ scp: 'inherited' }) as Record<string, unknown>)).toEqual([]);
});

test('control: by default scope wins over scp (unchanged)', async () => {
  const t = app();
  expect((await send(t, { scope: 'mcp', scp: ['notes.write'] })).status).toBe(403);
});

test('the claim read, of the wrong type: 401 claim_invalid, the handler not run', async () => {
  const t = app({ scopeClaims: ['scp', 'roles'] });
  for (const roles of [{ a: 1 }, [1], 7]) {
    const res = await send(t, { scope: undefined, roles });
    expect(res.status).toBe(401);
    expect(res.body.error.data.error_description).toBe('The access token roles claim is malformed');
  }
  expect(t.calls()).toBe(0);
});

test('check shows the scopes as the guard reads them, for a refused token too (scope: null: none, scp not read)', async () => {
  const env = { MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: fx.as.issuer };
  const now = Math.floor(Date.now() / 1000);
  for (const claims of [{ scope: null, scp: ['admin'] }, { scope: null, scp: ['admin'], iat: now - 7200, exp: now - 3600 }]) {
    expect((await runCheck(await fx.token(claims), { env })).claims?.scopes).toEqual([]);
  }
  const roles = await runCheck(await fx.token({ scope: undefined, roles: ['notes.write'], iat: now - 7200, exp: now - 3600 }), { env: { ...env, MCP_AUTH_SCOPE_CLAIMS: 'scp roles' } });
  expect(roles.decision).toBe('deny');
  expect(roles.claims?.scopes).toEqual(['notes.write']);
});

describe('introspection', () => {
  let as: LoopbackAS;
  beforeAll(async () => { as = await startLoopbackAS(); });
  afterAll(async () => { await as.close(); });

  test('an answer\'s claim is read the same way; one of the wrong type is the server\'s fault (503)', async () => {
    const t = fx.track(buildApp(opaqueOptions(as, { scopeClaims: ['scope', 'roles'], requiredScopes: ['notes.write'] })));
    const now = () => Math.floor(Date.now() / 1000);
    as.introspect = () => ({ body: activeAnswer(as, now(), { scope: undefined, roles: ['notes.write'] }) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
    as.introspect = () => ({ body: activeAnswer(as, now(), { scope: 'mcp', roles: ['notes.write'] }) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(403);
    as.introspect = () => ({ body: activeAnswer(as, now(), { scope: undefined, roles: { x: 1 } }) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(503);
  });
});

test('options: a non-empty list of claim names, none that carries no permission; MCP_AUTH_SCOPE_CLAIMS', () => {
  const problems = (v: unknown): readonly string[] => configProblems({ resource: RESOURCE, issuer: 'https://auth.example.com', scopeClaims: v });
  expect(problems([])).toEqual([expect.stringMatching(/^scopeClaims must not be empty/)]);
  for (const name of ['sub', 'aud', 'nonce', 'preferred_username', 'upn', 'oid', 'tid', 'amr', 'acr', 'email', 'given_name', 'nickname']) {
    expect(problems(['roles', name])).toEqual([`scopeClaims: "${name}" carries no permission and cannot be read as scopes`]);
  }
  expect(problems('roles')).toEqual([expect.stringMatching(/^scopeClaims must be an array/)]);
  expect(problems(['scp', 'roles', 'groups'])).toEqual([]);
  expect(fromEnv({ MCP_AUTH_SCOPE_CLAIMS: 'scp, roles' }).scopeClaims).toEqual(['scp', 'roles']);
});
