/**
 * An event stream whose type is given to `res.writeHead(status, headers)` only (Node sends such
 * headers without setting them on `res`: `getHeader` never sees them) is watched too: with
 * `app.disable('x-powered-by')`, in object and flat-array form, and the v1 SDK's stateful GET
 * stream (its transport answers with exactly such a `writeHead`).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { LoggingMessageNotificationSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Response } from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen } from '../helpers/http.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { openStream, push } from '../helpers/sse-client.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test.each([
  ['an object', { 'Content-Type': 'text/event-stream' }],
  ['a flat array', ['Content-Type', 'text/event-stream']],
])('writeHead(200, headers as %s) with X-Powered-By off: the GET stream still ends after exp', async (_l, head) => {
  const clock = fakeClock();
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const app = express();
  app.disable('x-powered-by');
  let open: Response | undefined;
  app.get('/mcp', auth.protect(), (_req, res) => {
    res.writeHead(200, head as never);
    res.flushHeaders();
    open = res;
  });
  const srv = await listen(app);
  try {
    const s = await openStream(`${srv.url}/mcp`, await fx.token({ iat: clock.seconds(), exp: clock.seconds() + 60 }), 'GET');
    await push(s, open!, 'first');
    clock.advance(66_000);
    await push(s, open!, 'after-expiry');
    expect(s.text()).toBe('data: first\n\n');
  } finally {
    open?.end();
    await srv.close();
  }
});

test('the v1 SDK stateful GET stream (README snippet) with X-Powered-By off ends at the first message after exp', async () => {
  const clock = fakeClock();
  const app = express();
  app.disable('x-powered-by');
  const http: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  const events: GuardEvent[] = [];
  const auth = fx.track(mcpAuth({ resource: url.href, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock, onEvent: (e) => { events.push(e); } }));
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: url.href, nowSeconds: () => clock.seconds() });
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let mcp: McpServer | undefined;
  let getOpened!: () => void;
  const opened = new Promise<void>((r) => { getOpened = r; });
  let getClosed!: () => void;
  const closed = new Promise<'closed'>((r) => { getClosed = () => r('closed'); });
  app.post('/mcp', auth.protect(), express.json({ limit: '4mb' }), async (req, res) => {
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      if (id !== undefined || !isInitializeRequest(req.body)) { res.status(id !== undefined ? 404 : 400).end(); return; }
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => { transports.set(sid, created); },
      });
      created.onclose = () => { if (created.sessionId) transports.delete(created.sessionId); };
      mcp = new McpServer({ name: 's', version: '1' }, { capabilities: { logging: {} } });
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const existing = async (req: express.Request, res: express.Response) => {
    const id = req.headers['mcp-session-id'];
    const transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) { res.status(404).end(); return; }
    if (req.method === 'GET') { res.on('close', getClosed); setImmediate(getOpened); }
    await transport.handleRequest(req, res);
  };
  app.get('/mcp', auth.protect(), existing);
  app.delete('/mcp', auth.protect(), existing);

  const token = await sign(fx.key, { sub: 'alice', client_id: 'c1', exp: clock.seconds() + 60 });
  const notes: string[] = [];
  let gotNote: (t: string) => void = () => {};
  const client = new Client({ name: 'c', version: '1' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { notes.push(String(n.params.data)); gotNote(String(n.params.data)); });
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } }, reconnectionOptions: { initialReconnectionDelay: 60_000, maxReconnectionDelay: 60_000, reconnectionDelayGrowFactor: 1, maxRetries: 0 } });
  try {
    await client.connect(transport);
    await opened;
    const note = (t: string) => new Promise<'delivered'>((r) => { gotNote = (x) => { if (x === t) r('delivered'); }; });
    const n1 = note('n1');
    await mcp!.server.notification({ method: 'notifications/message', params: { level: 'info', data: 'n1' } });
    await n1;
    clock.advance(66_000);
    const n2 = note('n2');
    await mcp!.server.notification({ method: 'notifications/message', params: { level: 'info', data: 'n2' } });
    // Either the guard ends the GET stream (correct), or n2 is delivered on it after exp.
    expect(await Promise.race([n2, closed])).toBe('closed');
    expect(events.filter((e) => e.type === 'stream_ended')).toHaveLength(1);
  } finally {
    await client.close().catch(() => {});
    for (const t of transports.values()) await t.close();
    http.closeAllConnections();
    await new Promise((r) => http.close(() => r(undefined)));
  }
});
