/**
 * `resources/templates/list` answers beyond a plain POST: one replayed on a resumed `GET` stream
 * (`Last-Event-ID`: the server's stored copy, told by its `resourceTemplates` array) is filtered
 * like the others, and a 2026-07-28 one goes out `cacheScope: "private"` (this token's view).
 */
import express from 'express';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let srv: Listening;
afterAll(async () => { await srv?.close(); });

const TEMPLATES = [{ uriTemplate: 'notes://public/{id}', name: 'public' }, { uriTemplate: 'notes://private/{id}', name: 'private' }];
const ANSWER = { jsonrpc: '2.0', id: 7, result: { resultType: 'complete', resourceTemplates: TEMPLATES, cacheScope: 'public', ttlMs: 60_000 } };

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, resourceScopes: { 'notes://public/': ['notes:read'], 'notes://': ['admin'] } } as Options));
  const app = express();
  app.use(express.json());
  app.get('/mcp', auth.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.end(`event: message\nid: e2\ndata: ${JSON.stringify(ANSWER)}\n\n`);
  });
  app.post('/mcp', auth.protect(), (_req, res) => { res.json(ANSWER); });
  srv = await listen(app);
});

const dataOf = (text: string): typeof ANSWER => JSON.parse(text.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as typeof ANSWER;

test('a templates answer replayed on a resumed GET stream is filtered (and a fresh GET stream is left alone)', async () => {
  const token = await fx.token({ scope: 'notes:read' });
  const get = async (resume: boolean) => dataOf(await (await fetch(`${srv.url}/mcp`, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', ...(resume ? { 'Last-Event-ID': 'e1' } : {}) } })).text());
  expect((await get(true)).result.resourceTemplates.map((t) => t.name)).toEqual(['public']);
  expect((await get(false)).result.resourceTemplates.map((t) => t.name)).toEqual(['public', 'private']);
});

test('a 2026-07-28 templates answer goes out cacheScope "private", filtered or not', async () => {
  for (const scope of ['notes:read', 'notes:read admin']) {
    const token = await fx.token({ scope });
    const r = await fetch(`${srv.url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2026-07-28' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'resources/templates/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
    });
    const body = (await r.json()) as typeof ANSWER;
    expect({ scope, names: body.result.resourceTemplates.map((t) => t.name), cacheScope: body.result.cacheScope }).toEqual({ scope, names: scope === 'notes:read' ? ['public'] : ['public', 'private'], cacheScope: 'private' });
  }
});
