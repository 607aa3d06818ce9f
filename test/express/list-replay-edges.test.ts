/**
 * A resumed GET stream (Last-Event-ID) is filtered for as long as it lasts, also past an event too
 * large to hold: that one event goes out unparsed (reported `too_large`), a replayed tools/list
 * answer after it is still filtered, and every list answer that goes out unfiltered on the stream is
 * reported, not only the first event the guard could not parse. Servers written here write their
 * own SSE (one large event in two writes).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections?.();
    await new Promise((r) => s.close(() => r(undefined)));
  }
});

const BIG = 17 * 1024 * 1024;
const LIST = { jsonrpc: '2.0', id: 2, result: { tools: [{ name: 'notes_list', inputSchema: { type: 'object' } }, { name: 'admin_wipe', inputSchema: { type: 'object' } }] } };

/**
 * A guard (tool policy, events kept) in front of a GET handler that writes `write`'s SSE, then a
 * resumed GET with a `notes:read` token: the answer's body and the events.
 */
async function resume(write: (res: express.Response) => void): Promise<{ body: string; events: GuardEvent[] }> {
  const events: GuardEvent[] = [];
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] }, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    write(res);
    res.end();
  });
  const http = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  servers.push(http);
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${await fx.token({ scope: 'notes:read' })}`, accept: 'text/event-stream', 'last-event-id': 'e4' } });
  expect(res.status).toBe(200);
  return { body: await res.text(), events };
}

test('a replayed tools/list answer after an oversized event is still filtered', async () => {
  const { body, events } = await resume((res) => {
    // A large notification written in two pieces (its first piece alone is over 16 MiB, incomplete).
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(BIG) } });
    const text = `event: message\nid: e5\ndata: ${big}\n\n`;
    res.write(text.slice(0, BIG));
    res.write(text.slice(BIG));
    // The stored answer to a tools/list made on the earlier connection.
    res.write(`event: message\nid: e6\ndata: ${JSON.stringify(LIST)}\n\n`);
  });
  const last = body.split('\n\n').filter((e) => e.includes('id: e6'))[0]!;
  const data = JSON.parse(last.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as typeof LIST;
  expect(events.some((e) => e.type === 'list_unfiltered' && e.reason === 'too_large')).toBe(true);
  expect(data.result.tools.map((t) => t.name)).toEqual(['notes_list']);
});

test('every unfiltered list answer on a long resumed stream is reported, not only the first unparsed event', async () => {
  const { body, events } = await resume((res) => {
    const note = { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(BIG) } };
    res.write(`event: message\nid: e5\ndata: ${JSON.stringify(note)}\n\n`);
    const list = { jsonrpc: '2.0', id: 2, result: { tools: [{ name: 'notes_list', description: 'y'.repeat(BIG) }, { name: 'admin_wipe' }] } };
    res.write(`event: message\nid: e6\ndata: ${JSON.stringify(list)}\n\n`);
  });
  expect(body).toContain('admin_wipe'); // passed unparsed (over 16 MiB), as documented
  const reports = events.filter((e) => e.type === 'list_unfiltered' && e.method === 'tools/list');
  expect(reports.length).toBeGreaterThanOrEqual(2);
});
