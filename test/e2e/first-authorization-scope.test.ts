/**
 * A tool policy with no `requiredScopes` and no `*` rule: the base set is empty, so the 401 names
 * no `scope=`. A client then asks for all of `scopes_supported` (MCP 2025-11-25 / 2026-07-28 scope
 * selection; both SDK clients do: `scope || scopes_supported.join(' ') || clientMetadata.scope`),
 * and an empty one would have it ask for nothing, which oidc-provider (the demo's authorization
 * server) refuses (`access_denied`: no scope granted): no first token, no step-up. So
 * `scopes_supported` then lists the policy's scopes, and the SDK v1 and v2 clients complete their
 * first authorization against the real oidc-provider.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { auth as authV1 } from '@modelcontextprotocol/sdk/client/auth.js';
import { auth as authV2 } from '@modelcontextprotocol/client';
import { startAuthorizationServer, type DemoAuthorizationServer } from '../../examples/authorization-server.js';
import { DemoOAuthProvider } from '../../examples/oauth-client-provider.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';

const REDIRECT = 'http://127.0.0.1:8976/callback';
let as: DemoAuthorizationServer;
let http: Server;
let guard: McpAuthGuard;
let url: string;

beforeAll(async () => {
  as = await startAuthorizationServer();
  http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  guard = mcpAuth({
    resource: url,
    issuer: as.issuer,
    // No requiredScopes, no '*' rule: every tool is named.
    toolScopes: { list_notes: ['notes:read'], add_note: ['notes:write'], delete_note: ['notes:write'] },
  });
  const app = express();
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  http.on('request', app);
  as.addResource(url, { format: 'jwt' });
});
afterAll(async () => {
  await guard.close();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await as.close();
});

test('the metadata gives a client something to ask for when the 401 names no scope', async () => {
  const first = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  expect(first.status).toBe(401);
  expect(first.headers.get('www-authenticate')).not.toMatch(/scope=/);
  const doc = await (await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/.well-known/oauth-protected-resource/mcp`)).json() as { scopes_supported?: string[] };
  expect(doc.scopes_supported?.length ?? 0).toBeGreaterThan(0);
});

test.each([
  ['MCP SDK v1 auth()', authV1],
  ['MCP SDK v2 auth()', authV2],
])('%s (no scope= in the 401, as its transport calls it) gets its first authorization code from oidc-provider', async (_label, authFn) => {
  const provider = new DemoOAuthProvider(REDIRECT);
  const result = await (authFn as typeof authV1)(provider, { serverUrl: url });
  expect(result).toBe('REDIRECT');
  expect(provider.lastAuthorization?.error).toBeUndefined();
  expect(provider.lastAuthorization?.code).toBeDefined();
});
