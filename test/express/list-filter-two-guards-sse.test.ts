/**
 * Two guards on one route, SSE answer streamed event by event. Guard A (app-wide) filters tools/list;
 * guard B (route) filters tools/list and prompts/list. When A's list calls are all answered, A steps
 * aside without removing B's wrapper (installed after A's), so B still filters the prompts/list
 * answer that follows.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ADMIN = 'http://127.0.0.1:9/admin';
const fx = loopbackJwtSuite(RESOURCE);

const TOOLS = [{ name: 'list_notes', inputSchema: { type: 'object' } }];
const PROMPTS = [{ name: 'summary' }, { name: 'admin_prompt' }];

test('the route guard still filters a later SSE list answer after the app-wide guard stepped aside', async () => {
  const a = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { '*': [] } }));
  const b = fx.track(mcpAuth({
    resource: ADMIN,
    issuer: fx.as.issuer,
    toolScopes: { list_notes: [] },
    promptScopes: { summary: [], admin_prompt: ['admin'] },
  }));
  const app = express();
  app.use(a.protect());
  app.post('/mcp', b.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    // tools/list answered first (A's only list call), prompts/list afterwards, as separate writes.
    res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: TOOLS } })}\n\n`);
    res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 2, result: { prompts: PROMPTS } })}\n\n`);
    res.end();
  });
  const token = await fx.token({ aud: [RESOURCE, ADMIN], scope: 'mcp' });

  // Guard B refuses the prompt itself...
  const denied = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`)
    .send({ jsonrpc: '2.0', id: 3, method: 'prompts/get', params: { name: 'admin_prompt' } });
  expect(denied.status).toBe(403);

  // ...so its list must not show it.
  const res = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`)
    .send([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'prompts/list' }])
    .buffer(true).parse((r, cb) => { let s = ''; r.setEncoding('utf8'); r.on('data', (c: string) => { s += c; }); r.on('end', () => cb(null, s)); });
  expect(res.status).toBe(200);
  const events = (res.body as string).split('\n\n').filter((e) => e.includes('data:'))
    .map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as { id: number; result: Record<string, { name: string }[]> });
  const prompts = events.find((e) => e.id === 2)!.result.prompts!.map((p) => p.name);
  expect(prompts).toEqual(['summary']);
});
