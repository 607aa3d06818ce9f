/**
 * The MCP conformance suite's server authorization scenarios (modelcontextprotocol/conformance,
 * `src/scenarios/server/auth/scenarios/`: `server/auth-401-unauthorized`,
 * `server/auth-www-authenticate-header`, `server/auth-prm-discovery`,
 * `server/auth-prm-resource-validation`, `server/auth-discovery-mechanism`), replayed here check by
 * check against the guard in front of an MCP endpoint, with the demo's real authorization server
 * (oidc-provider). The suite needs Node ≥ 22, so it is not run itself; each check below asserts
 * what the scenario requires for SUCCESS (not merely no FAILURE), read the way its client reads
 * it: the scheme is what precedes the first space, parameter names are case-insensitive. Real HTTP
 * on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { startAuthorizationServer, type DemoAuthorizationServer } from '../../examples/authorization-server.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { parseChallenge } from '../helpers/challenge.js';

let as: DemoAuthorizationServer;
let http: Server;
let guard: McpAuthGuard;
let serverUrl: string;
let handled = 0;

beforeAll(async () => {
  as = await startAuthorizationServer();
  http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  guard = mcpAuth({ resource: serverUrl, issuer: as.issuer, requiredScopes: ['notes:read'] });
  const app = express();
  app.use(guard.metadata());
  app.use(express.json());
  app.post('/mcp', guard.protect(), (_req, res) => { handled++; res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  http.on('request', app);
  as.addResource(serverUrl, { format: 'jwt' });
});
afterAll(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await guard.close();
  await as.close();
});

/** As the suite's client sends a request: `Accept: application/json`, a JSON body, no token unless given. */
async function send(url: string, body?: unknown, token?: string): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* kept as text */ }
  return { status: res.status, headers: res.headers, body: parsed };
}

const INITIALIZE = { jsonrpc: '2.0', method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'conformance-auth-test', version: '1.0.0' } }, id: 1 };
const TOOLS_LIST = { jsonrpc: '2.0', method: 'tools/list', params: {}, id: 1 };
/** RFC 6749 scope-token characters, as the scenario checks them. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const RFC6750_ERRORS = ['invalid_request', 'invalid_token', 'insufficient_scope'];

test('server/auth-401-unauthorized: 401, a WWW-Authenticate header, a JSON object body; the handler never runs', async () => {
  const res = await send(serverUrl, INITIALIZE);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBeTruthy();
  expect(typeof res.body === 'object' && res.body !== null).toBe(true);
  expect(handled).toBe(0);
});

test.each([
  ['no token', undefined],
  ['a malformed token', 'not-a-jwt'],
])('server/auth-www-authenticate-header (%s): Bearer scheme, a resource_metadata URL, well-formed scope tokens, an RFC 6750 error code if any', async (_label, token) => {
  const res = await send(serverUrl, TOOLS_LIST, token);
  expect(res.status).toBe(401);
  const raw = res.headers.get('www-authenticate')!;
  expect(raw.slice(0, raw.indexOf(' ')).toLowerCase()).toBe('bearer');
  const { params } = parseChallenge(raw);
  expect(new URL(params.resource_metadata!).href).toBe(params.resource_metadata);
  // (The conformance check accepts any absolute URL; this server's is its path-based document.)
  expect(params.resource_metadata).toBe(`${new URL(serverUrl).origin}/.well-known/oauth-protected-resource${new URL(serverUrl).pathname}`);
  const scopes = params.scope!.split(' ').filter((s) => s.length > 0);
  expect(scopes).toEqual(['notes:read']);
  for (const s of scopes) expect(s).toMatch(SCOPE_TOKEN);
  if (token === undefined) expect(params.error).toBeUndefined();
  else {
    expect(RFC6750_ERRORS).toContain(params.error);
    expect(params.error).toBe('invalid_token');
  }
});

test('server/auth-prm-discovery: the path-based document (tried first) is a JSON object with resource, valid authorization_servers and string scopes_supported', async () => {
  const u = new URL(serverUrl);
  const res = await send(`${u.origin}/.well-known/oauth-protected-resource${u.pathname}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const prm = res.body as Record<string, unknown>;
  expect(typeof prm.resource === 'string' && prm.resource.length > 0).toBe(true);
  expect(Array.isArray(prm.authorization_servers) && prm.authorization_servers.length > 0).toBe(true);
  for (const server of prm.authorization_servers as unknown[]) expect(() => new URL(server as string)).not.toThrow();
  expect(Array.isArray(prm.scopes_supported)).toBe(true);
  for (const s of prm.scopes_supported as unknown[]) expect(typeof s).toBe('string');
  // The root form, which the scenario tries next, answers too.
  expect((await send(`${u.origin}/.well-known/oauth-protected-resource`)).status).toBe(200);
});

test('server/auth-prm-resource-validation: resource is an absolute URI without fragment, equal to the server URL', async () => {
  const u = new URL(serverUrl);
  const { resource } = (await send(`${u.origin}/.well-known/oauth-protected-resource${u.pathname}`)).body as { resource: string };
  const parsed = new URL(resource);
  expect(parsed.hash).toBe('');
  // Exact match: the strongest of the scenario's "relates to the server URL" outcomes. (Its https
  // check is only a WARNING on loopback http, as here.)
  expect(resource).toBe(serverUrl);
});

test('server/auth-discovery-mechanism: the first authorization server is discoverable (RFC 8414 or OIDC), consistent where both answer', async () => {
  const u = new URL(serverUrl);
  const { authorization_servers: servers } = (await send(`${u.origin}/.well-known/oauth-protected-resource${u.pathname}`)).body as { authorization_servers: string[] };
  const issuer = new URL(servers[0]!);
  const path = issuer.pathname === '/' ? '' : issuer.pathname;
  const found: Record<string, unknown>[] = [];
  for (const wellKnown of ['oauth-authorization-server', 'openid-configuration']) {
    const res = await send(`${issuer.origin}/.well-known/${wellKnown}${path}`);
    if (res.status === 200 && typeof res.body === 'object' && res.body !== null) found.push(res.body as Record<string, unknown>);
  }
  // The demo's oidc-provider answers both, so the consistency check of the scenario runs.
  expect(found).toHaveLength(2);
  expect(found[0]!.issuer).toBe(servers[0]);
  const [rfc8414, oidc] = found as [Record<string, unknown>, Record<string, unknown>];
  expect([oidc.issuer, oidc.authorization_endpoint, oidc.token_endpoint]).toEqual([rfc8414.issuer, rfc8414.authorization_endpoint, rfc8414.token_endpoint]);
});
