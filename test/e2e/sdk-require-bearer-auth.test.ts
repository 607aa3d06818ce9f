/**
 * The SDK's own `requireBearerAuth` with `auth.verify` behind the README's adapter (Integration):
 * `requireBearerAuth` maps only the SDK's own `OAuthError` classes to 401/403 (anything else is a
 * 500 `server_error` without a challenge, and the SDK client only re-authorizes or refreshes on a
 * 401). Handed `guard.verify` directly, every refused token was a 500; through the adapter it is
 * 401 `invalid_token` with a challenge (MCP; checklist 8, 13), and a valid token reaches the tool.
 * `auth.verify` checks the token only; the adapter hands the SDK `requiredScopes` (as from
 * `MCP_AUTH_REQUIRED_SCOPES`), so a token without them is 403 `insufficient_scope`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError, ServerError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isMcpAuthError, mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

let as: LoopbackAS;
let key: TestKey;
let guard: McpAuthGuard;
let server: Server;
let url: URL;
let toolRuns = 0;

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
  const app = express();
  server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  guard = mcpAuth({ resource: url.href, issuer: as.issuer, jwksUri: as.jwksUri, requiredScopes: ['mcp'] });
  const resourceMetadataUrl = `${url.origin}/.well-known/oauth-protected-resource/mcp`;
  app.use(express.json());
  app.use(guard.metadata());
  // The README's adapter, as written there.
  const auth = guard;
  const verifier = {
    verifyAccessToken: (token: string) => auth.verify(token).catch((err: unknown) => {
      throw isMcpAuthError(err) && err.status === 401 ? new InvalidTokenError(err.description) : new ServerError('Authorization unavailable');
    }),
  };
  app.post('/mcp', requireBearerAuth({ verifier, requiredScopes: [...auth.config.requiredScopes], expectedResource: url, resourceMetadataUrl }), async (req, res) => {
    const mcp = new McpServer({ name: 'rba', version: '1.0.0' });
    mcp.registerTool('whoami', { description: 'who' }, async (extra) => {
      toolRuns++;
      return { content: [{ type: 'text', text: extra.authInfo?.clientId ?? 'nobody' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await as.close();
});

function call(token: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
}

test('control: a valid token reaches the tool through requireBearerAuth + guard.verify', async () => {
  const token = await tokenBuilder({ issuer: as.issuer, audience: url.href })(key, { client_id: 'sdk-client', scope: 'mcp' });
  const res = await call(token);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ id: 1, result: { content: [{ type: 'text', text: 'sdk-client' }] } });
});

test.each([
  ['expired', { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 }],
  ['another audience', { aud: 'http://127.0.0.1:9/other' }],
])('a refused token (%s) is answered 401 invalid_token with a challenge, not 500', async (_label, claims) => {
  const before = toolRuns;
  const token = await tokenBuilder({ issuer: as.issuer, audience: url.href })(key, { scope: 'mcp', ...claims });
  const res = await call(token);
  expect(toolRuns).toBe(before);
  expect({ status: res.status, challenge: res.headers.get('www-authenticate') }).toEqual({
    status: 401,
    challenge: expect.stringMatching(/^Bearer error="invalid_token"/),
  });
});

test('a valid token without requiredScopes is 403 insufficient_scope (verify() checks the token only; the adapter passes requiredScopes)', async () => {
  const before = toolRuns;
  const token = await tokenBuilder({ issuer: as.issuer, audience: url.href })(key, { scope: 'other' });
  await expect(guard.verify(token)).resolves.toMatchObject({ scopes: ['other'] });
  const res = await call(token);
  expect(toolRuns).toBe(before);
  expect(res.status).toBe(403);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope"/);
});
