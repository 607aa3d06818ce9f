/**
 * The real MCP SDK behind protect(): `McpServer` + `StreamableHTTPServerTransport` (stateless,
 * JSON responses). A tool handler receives the guard's `req.auth` as `extra.authInfo`.
 */
import type { AuthInfo as SdkAuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import request from 'supertest';
import { mcpAuth, type AuthInfo, type McpAuthGuard } from '../lib/index.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ACCEPT = 'application/json, text/event-stream';
let as: LoopbackAS;
let key: TestKey;
let guard: McpAuthGuard;
let app: express.Express;
let seen: SdkAuthInfo[] = [];
let toolRuns = 0;

// Compile-time proof: the guard's AuthInfo is assignable to the SDK's.
const sameShape = (a: AuthInfo): SdkAuthInfo => a;

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
  guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri });
  app = express();
  app.use(express.json());
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const server = new McpServer({ name: 'test', version: '1.0.0' });
    server.registerTool('whoami', { description: 'Who is calling' }, async (extra) => {
      toolRuns++;
      if (extra.authInfo) seen.push(extra.authInfo);
      return { content: [{ type: 'text', text: extra.authInfo?.clientId ?? 'nobody' }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
});
beforeEach(() => { seen = []; });
afterAll(async () => {
  await guard.close();
  await as.close();
});

function rpc(token: string | undefined, body: unknown) {
  const r = request(app).post('/mcp').set('Accept', ACCEPT).set('Content-Type', 'application/json');
  if (token) r.set('Authorization', `Bearer ${token}`);
  return r.send(JSON.stringify(body));
}

test('stateless: tools/call without initialize reaches the tool with extra.authInfo', async () => {
  const iat = Math.floor(Date.now() / 1000);
  const token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key, { scope: 'mcp notes:read', client_id: 'sdk-client', exp: iat + 900, tenant: 't1' });
  const res = await rpc(token, { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 11, result: { content: [{ type: 'text', text: 'sdk-client' }] } });
  expect(seen).toHaveLength(1);
  const info = seen[0]!;
  expect(info.token).toBe(token);
  expect(info.clientId).toBe('sdk-client');
  expect(info.scopes).toEqual(['mcp', 'notes:read']);
  expect(info.expiresAt).toBe(iat + 900);
  expect(info.resource).toBeInstanceOf(URL);
  expect(info.resource?.href).toBe(RESOURCE);
  expect(info.extra).toMatchObject({ iss: as.issuer, sub: 'user-1', aud: RESOURCE, tenant: 't1' });
  expect(sameShape(info as AuthInfo)).toBe(info);
});

test('initialize then tools/list work behind the guard', async () => {
  const token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key);
  const init = await rpc(token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  expect(init.status).toBe(200);
  expect(init.body.result.serverInfo.name).toBe('test');
  const list = await rpc(token, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  expect(list.status).toBe(200);
  expect(list.body.result.tools.map((t: { name: string }) => t.name)).toEqual(['whoami']);
});

test('without a token the SDK never sees the request: 401, the tool does not run', async () => {
  const before = toolRuns;
  const res = await rpc(undefined, { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ id: 5, error: { data: { code: 'UNAUTHORIZED' } } });
  expect(toolRuns).toBe(before);
  expect(seen).toHaveLength(0);
});
