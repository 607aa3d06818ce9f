/**
 * Checklist 5, "validate every request; a session is never authentication": the real MCP SDK
 * transport in stateful mode (`Mcp-Session-Id`) behind protect(). Once a session exists, a request
 * carrying its id but no token, or a bad token, is refused before the transport sees it; only a
 * valid token gets through, on every request.
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ACCEPT = 'application/json, text/event-stream';
const fx = loopbackJwtSuite(RESOURCE);
let app: express.Express;
let transportCalls = 0;
const transports = new Map<string, StreamableHTTPServerTransport>();

beforeAll(() => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri }));
  app = express();
  app.use(express.json());
  app.all('/mcp', guard.protect(), async (req, res) => {
    transportCalls++;
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: true, onsessioninitialized: (sid) => { transports.set(sid, created); } });
      const server = new McpServer({ name: 'session-test', version: '1.0.0' });
      server.registerTool('ping_tool', { description: 'answers' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });
});
afterAll(async () => {
  for (const t of transports.values()) await t.close();
});

function rpc(session: string | undefined, token: string | undefined, body: unknown) {
  const r = request(app).post('/mcp').set('Accept', ACCEPT).set('Content-Type', 'application/json').set('MCP-Protocol-Version', '2025-06-18');
  if (session) r.set('Mcp-Session-Id', session);
  if (token) r.set('Authorization', `Bearer ${token}`);
  return r.send(JSON.stringify(body));
}

test('a session id is no credential: without a token, or with a bad one, 401 and the transport never runs', async () => {
  const token = await fx.token();
  const init = await rpc(undefined, token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  expect(init.status).toBe(200);
  const session = init.headers['mcp-session-id'] as string;
  expect(session).toMatch(/^[0-9a-f-]{36}$/);
  await rpc(session, token, { jsonrpc: '2.0', method: 'notifications/initialized' });
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
  expect((await rpc(session, token, list)).status).toBe(200);

  const before = transportCalls;
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    undefined,
    await fx.token({ exp: now - 3600, iat: now - 7200 }),
    await fx.token({ aud: 'http://127.0.0.1:9/other' }),
  ];
  for (const credential of bad) {
    const res = await rpc(session, credential, list);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
  }
  const get = await request(app).get('/mcp').set('Accept', 'text/event-stream').set('Mcp-Session-Id', session);
  expect(get.status).toBe(401);
  const del = await request(app).delete('/mcp').set('Mcp-Session-Id', session);
  expect(del.status).toBe(401);
  expect(transportCalls).toBe(before);

  // The session is still there for the valid token.
  const again = await rpc(session, token, list);
  expect(again.status).toBe(200);
  expect(again.body.result.tools.map((t: { name: string }) => t.name)).toEqual(['ping_tool']);
});
