/**
 * Checklist 17: an invalid `Origin` → 403 is the MCP transport's rule (DNS rebinding protection).
 * The guard, mounted app-wide and per route, must not get in its way: a valid token with a bad
 * Origin reaches the transport, which answers 403 itself; CORS preflights pass through to the app.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const GOOD = 'http://good.example';
const fx = loopbackJwtSuite(RESOURCE);
let guard: McpAuthGuard;
let app: express.Express;
let transportRuns = 0;
let preflights = 0;

beforeAll(() => {
  guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { '*': ['mcp'] } }));
  app = express();
  app.use(express.json());
  app.use(guard.metadata());
  app.use(guard.protect()); // app-wide
  app.options('/mcp', (_req, res) => { preflights++; res.set('Access-Control-Allow-Origin', GOOD).status(204).end(); });
  app.post('/mcp', async (req, res) => {
    transportRuns++;
    const server = new McpServer({ name: 'origin-test', version: '1.0.0' });
    server.registerTool('echo', { description: 'echo' }, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      enableDnsRebindingProtection: true,
      allowedOrigins: [GOOD],
    });
    res.on('close', () => { void transport.close(); void server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
});
beforeEach(() => { transportRuns = 0; preflights = 0; });

const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: {} } };
const post = (token: string, origin: string) => request(app).post('/mcp')
  .set('Authorization', `Bearer ${token}`).set('Origin', origin)
  .set('Accept', 'application/json, text/event-stream').send(call);

test('a valid token from an allowed Origin: 200 from the tool', async () => {
  const res = await post(await fx.token({ scope: 'mcp' }), GOOD);
  expect(res.status).toBe(200);
  expect(res.body.result.content[0].text).toBe('ok');
  expect(transportRuns).toBe(1);
});

test('a valid token from a foreign Origin: the transport answers its own 403, the guard adds no challenge', async () => {
  const res = await post(await fx.token({ scope: 'mcp' }), 'http://evil.example');
  expect(transportRuns).toBe(1); // the guard let it through to the transport
  expect(res.status).toBe(403);
  expect(res.headers['www-authenticate']).toBeUndefined();
  expect(res.body.error.data?.code).toBeUndefined(); // not the guard's error body
});

test('an invalid token from a foreign Origin is still the guard\'s 401 (authentication comes first)', async () => {
  const res = await post('not-a-valid-token', 'http://evil.example');
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
  expect(transportRuns).toBe(0);
});

test('a CORS preflight passes through the app-wide guard to the app\'s own handler', async () => {
  const res = await request(app).options('/mcp').set('Origin', GOOD)
    .set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization, content-type');
  expect(res.status).toBe(204);
  expect(res.headers['access-control-allow-origin']).toBe(GOOD);
  expect(preflights).toBe(1);
});

test('an OPTIONS that is not a preflight is checked like any request', async () => {
  const res = await request(app).options('/mcp').set('Origin', GOOD);
  expect(res.status).toBe(401);
  expect(preflights).toBe(0);
});
