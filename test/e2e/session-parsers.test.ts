/**
 * A session opened by `initialize` is bound (and usable by the same token) whatever a parser before
 * `protect()` left on `req.body`: body-parser 1.x (Express 4) sets `{}` on every request it skips
 * (`express.urlencoded()` mounted app-wide), and `express.raw()` leaves a Buffer. Only a body that
 * is positively JSON-RPC without an `initialize` is taken for one that opens no session.
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import express4 from 'express4';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const transports = new Map<string, StreamableHTTPServerTransport>();
let srv: Listening;
let rawSrv: Listening;

/** The usual stateful SDK handler; `parse` turns what the app's parser left into the transport's parsed body. */
function mcpHandler(parse: (body: unknown) => unknown) {
  return async (req: express.Request, res: express.Response): Promise<void> => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: true, onsessioninitialized: (sid) => { transports.set(sid, created); } });
      const server = new McpServer({ name: 'e4', version: '1.0.0' });
      server.registerTool('ping_tool', { description: 'answers' }, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, parse(req.body));
  };
}

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri }));
  const app = express4();
  // An app-wide form parser (a login page on the same app): body-parser 1.x leaves {} on a JSON POST it skips.
  app.use(express4.urlencoded({ extended: false }));
  app.all('/mcp', guard.protect(), express4.json(), mcpHandler((b) => b));
  srv = await listen(app);

  const rawGuard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri }));
  const rawApp = express();
  rawApp.use(express.raw({ type: 'application/json' }));
  rawApp.all('/mcp', rawGuard.protect(), mcpHandler((b) => (Buffer.isBuffer(b) && b.length > 0 ? JSON.parse(b.toString('utf8')) : undefined)));
  rawSrv = await listen(rawApp);
});
afterAll(async () => {
  for (const t of transports.values()) await t.close();
  await srv?.close();
  await rawSrv?.close();
});

function post(token: string, body: unknown, session?: string, on = srv): Promise<Response> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-06-18',
  };
  if (session) headers['Mcp-Session-Id'] = session;
  return fetch(`${on.url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
}

test.each([
  ['Express 4 with an app-wide urlencoded parser', () => srv],
  ['Express 5 with express.raw() before protect()', () => rawSrv],
])('%s: the session an initialize opened is usable by the same token', async (_label, on) => {
  const token = await fx.token({ sub: 'alice', client_id: 'client-a' });
  const init = await post(token, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, undefined, on());
  expect(init.status).toBe(200);
  const session = init.headers.get('mcp-session-id')!;
  expect(session).toMatch(/^[0-9a-f-]{36}$/);
  await init.text();
  const initialized = await post(token, { jsonrpc: '2.0', method: 'notifications/initialized' }, session, on());
  await initialized.text();
  expect(initialized.status).toBe(202); // fails today: 404 SESSION_NOT_FOUND
  const call = await post(token, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ping_tool', arguments: {} } }, session, on());
  expect(call.status).toBe(200);
  expect(await call.text()).toContain('pong');
});
