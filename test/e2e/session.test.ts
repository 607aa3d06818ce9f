/**
 * Checklist 5, "validate every request; a session is never authentication": the real MCP SDK
 * transport in stateful mode (`Mcp-Session-Id`) behind protect(). Once a session exists, a request
 * carrying its id but no token, or a bad token, is refused before the transport sees it; only a
 * valid token gets through, on every request.
 *
 * And a session belongs to the identity that uses it (MCP security best practices, "Session
 * Hijacking": bind session ids to the user): another user's (or another client's) valid token
 * presenting it gets 404, as for a session that does not exist, on POST, GET and DELETE alike; a
 * refreshed token of the same user and client keeps it. The binding is made when the `initialize`
 * answer issues the id: an id the guard did not see issued (made up, or opened through another
 * guard) is nobody's, so presenting an id first wins nothing. `bindSessions: false` turns that off.
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
let unbound: express.Express;
/** A second guard with its own bindings, in front of the same sessions (`transports`). */
let second: express.Express;
let transportCalls = 0;
const transports = new Map<string, StreamableHTTPServerTransport>();

function mcpApp(bindSessions: boolean): express.Express {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, bindSessions }));
  const app = express();
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
  return app;
}

beforeAll(() => {
  app = mcpApp(true);
  unbound = mcpApp(false);
  second = mcpApp(true);
});
afterAll(async () => {
  for (const t of transports.values()) await t.close();
});

function rpc(session: string | undefined, token: string | undefined, body: unknown, on = app) {
  const r = request(on).post('/mcp').set('Accept', ACCEPT).set('Content-Type', 'application/json').set('MCP-Protocol-Version', '2025-06-18');
  if (session) r.set('Mcp-Session-Id', session);
  if (token) r.set('Authorization', `Bearer ${token}`);
  return r.send(JSON.stringify(body));
}

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/** A session opened (and initialized) with `token`: its id. */
async function openSession(token: string, on = app): Promise<string> {
  const init = await rpc(undefined, token, INIT, on);
  expect(init.status).toBe(200);
  const session = init.headers['mcp-session-id'] as string;
  expect((await rpc(session, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, on)).status).toBe(202);
  return session;
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

describe('sessions are bound to the identity that uses them', () => {
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

  test("another user's or another client's valid token gets 404 on POST, GET and DELETE; the transport never runs", async () => {
    const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
    const session = await openSession(alice);
    const before = transportCalls;
    for (const other of [await fx.token({ sub: 'bob', client_id: 'client-b' }), await fx.token({ sub: 'alice', client_id: 'client-b' })]) {
      const post = await rpc(session, other, list);
      expect(post.status).toBe(404);
      expect(post.headers['www-authenticate']).toBeUndefined();
      expect(post.body).toEqual({ jsonrpc: '2.0', id: 2, error: { code: -32007, message: 'Session not found', data: { code: 'SESSION_NOT_FOUND', error_description: 'Session not found' } } });
      const get = await request(app).get('/mcp').set('Accept', 'text/event-stream').set('Authorization', `Bearer ${other}`).set('Mcp-Session-Id', session);
      expect(get.status).toBe(404);
      const del = await request(app).delete('/mcp').set('Authorization', `Bearer ${other}`).set('Mcp-Session-Id', session);
      expect(del.status).toBe(404);
    }
    expect(transportCalls).toBe(before);
    // Alice's session is untouched; a refreshed token of hers (same subject and client) keeps it.
    expect((await rpc(session, alice, list)).status).toBe(200);
    const refreshed = await fx.token({ sub: 'alice', client_id: 'client-a', jti: 'refreshed' });
    expect((await rpc(session, refreshed, list)).status).toBe(200);
  });

  test("an id the guard did not see issued is nobody's: made up before it is issued, or opened through another guard", async () => {
    const mallory = await fx.token({ sub: 'mallory', client_id: 'client-m' });
    const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
    const before = transportCalls;
    expect((await rpc('made-up-id', mallory, list)).status).toBe(404);
    expect(transportCalls).toBe(before);
    // Alice opens a session through the first guard: hers there, nobody's through the second one.
    const session = await openSession(alice);
    expect((await rpc(session, alice, list, second)).status).toBe(404);
    expect((await rpc(session, mallory, list, second)).status).toBe(404);
    expect((await rpc(session, alice, list)).status).toBe(200);
  });

  test("a session its owner ended (2xx to its DELETE) is forgotten: the id is nobody's, and the transport never sees it again", async () => {
    const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
    const session = await openSession(alice);
    const del = await request(app).delete('/mcp').set('Authorization', `Bearer ${alice}`).set('Mcp-Session-Id', session);
    expect(del.status).toBe(200);
    const before = transportCalls;
    const after = await rpc(session, alice, list);
    expect(after.status).toBe(404);
    expect(after.body.error.code).toBe(-32007);
    expect((await request(app).delete('/mcp').set('Authorization', `Bearer ${alice}`).set('Mcp-Session-Id', session)).status).toBe(404);
    expect(transportCalls).toBe(before);
  });

  test('a DELETE the application refuses ends nothing: the session stays its owner\'s', async () => {
    const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
    const session = await openSession(alice);
    // Another identity's DELETE never reaches the application and releases nothing either.
    expect((await request(app).delete('/mcp').set('Authorization', `Bearer ${await fx.token({ sub: 'bob', client_id: 'client-b' })}`).set('Mcp-Session-Id', session)).status).toBe(404);
    const refused = await request(app).delete('/mcp').set('Authorization', `Bearer ${alice}`).set('Mcp-Session-Id', session).set('Mcp-Protocol-Version', 'not-a-version');
    expect(refused.status).toBe(400);
    expect((await rpc(session, alice, list)).status).toBe(200);
  });

  test('bindSessions: false leaves sessions to the application', async () => {
    const session = await openSession(await fx.token({ sub: 'alice', client_id: 'client-a' }), unbound);
    const bob = await fx.token({ sub: 'bob', client_id: 'client-b' });
    expect((await rpc(session, bob, list, unbound)).status).toBe(200);
  });
});
