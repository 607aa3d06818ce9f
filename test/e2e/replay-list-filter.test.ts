/**
 * Resumability and list filtering: the SDK's stateful server with an event store stores every event
 * of a stream before it is written, so a `tools/list` answer a client did not receive (its
 * connection dropped, or it let go on purpose) is replayed, as the server stored it, on a `GET`
 * with `Last-Event-ID`. The guard filters that replayed answer as it filtered the live one: a token
 * never sees a tool it may not call by resuming a stream.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { mcpAuth } from '../../lib/index.js';
import { EventLog } from '../helpers/event-log.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

/** The token's resource (the guard does not compare it with the request's host). */
const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let live: Listening;
let url: string;
let token: string;
const transports = new Map<string, StreamableHTTPServerTransport>();
/** The event store of each session, as the server stored its events. */
const stores = new Map<string, EventLog>();

beforeAll(async () => {
  token = await fx.token({ scope: 'notes:read' });
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } }));
  const app = express();
  app.post('/mcp', guard.protect(), async (req, res) => {
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid || !isInitializeRequest(req.body)) { res.status(404).end(); return; }
      const store = new EventLog();
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: store,
        onsessioninitialized: (id) => { transports.set(id, t); stores.set(id, store); },
      });
      const mcp = new McpServer({ name: 'replay', version: '1.0.0' });
      for (const name of ['notes_list', 'admin_wipe']) mcp.registerTool(name, { description: name }, async () => ({ content: [] }));
      await mcp.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  app.get('/mcp', guard.protect(), async (req, res) => {
    const transport = transports.get(String(req.headers['mcp-session-id']));
    if (!transport) { res.status(404).end(); return; }
    await transport.handleRequest(req, res);
  });
  live = await listen(app);
  url = `${live.url}/mcp`;
});

afterAll(async () => {
  for (const t of transports.values()) await t.close();
  await live.close();
});

const headers = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...extra,
});

/** The SSE events of a stream, read until one carries a JSON-RPC result (then the stream is let go). */
async function eventsUntilResult(res: Response): Promise<Array<{ id?: string; data: string }>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const events: Array<{ id?: string; data: string }> = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = text.indexOf('\n\n')) !== -1) {
      const block = text.slice(0, i);
      text = text.slice(i + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      events.push(id === undefined ? { data } : { id, data });
      if (data.includes('"result"')) { await reader.cancel(); return events; }
    }
  }
  return events;
}

const toolNames = (data: string): string[] => (JSON.parse(data) as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name).sort();

test('a tools/list answer replayed on a resumed GET stream is filtered like the live one', async () => {
  const init = await fetch(url, { method: 'POST', headers: headers(), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
  expect(init.status).toBe(200);
  const sid = init.headers.get('mcp-session-id')!;
  await eventsUntilResult(init);
  await (await fetch(url, { method: 'POST', headers: headers({ 'mcp-session-id': sid }), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).arrayBuffer();

  const live = await fetch(url, { method: 'POST', headers: headers({ 'mcp-session-id': sid }), body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
  const liveEvents = await eventsUntilResult(live);
  const priming = liveEvents.find((e) => e.data === '' && e.id !== undefined);
  expect(priming).toBeDefined();
  expect(toolNames(liveEvents.at(-1)!.data)).toEqual(['notes_list']);

  // The server stored the answer unfiltered (so a replay the guard did not filter would show admin_wipe).
  expect(JSON.stringify(stores.get(sid)!.events.map((e) => e.message))).toContain('admin_wipe');

  // The client resumes after the priming event, as one whose connection dropped before the answer.
  const resumed = await fetch(url, { headers: headers({ 'mcp-session-id': sid, 'last-event-id': priming!.id!, accept: 'text/event-stream' }) });
  expect(resumed.status).toBe(200);
  const replayed = (await eventsUntilResult(resumed)).filter((e) => e.data.includes('"result"'));
  expect(replayed).toHaveLength(1);
  expect(toolNames(replayed[0]!.data)).toEqual(['notes_list']);
});
