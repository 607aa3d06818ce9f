/**
 * A 2026-07-28 list answer the guard filtered, whose server left `cacheScope` out, goes out with
 * `cacheScope: "private"`, JSON and SSE alike: the schema makes the field required, and clients
 * may take an absent one for "public" (the C# SDK tells them to), so without
 * it this token's view (here an admin's full list, naming the `admin` tool) could be kept by a
 * shared cache and served to another authorization.
 */
import express from 'express';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let srv: Listening;
afterAll(async () => { await srv?.close(); });

test('a filtered 2026 tools/list answer without cacheScope goes out "private", JSON and SSE', async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, toolScopes: { report: ['reports:read'], admin: ['admin'] } } as Options));
  const app = express();
  app.use(express.json());
  app.post('/mcp', auth.protect(), (req, res) => {
    const { id } = req.body as { id: number };
    // A 2026-07-28 result (resultType, ttlMs) whose server left cacheScope out.
    const answer = { jsonrpc: '2.0', id, result: { resultType: 'complete', tools: [{ name: 'report', inputSchema: { type: 'object' } }, { name: 'admin', inputSchema: { type: 'object' } }], ttlMs: 60_000 } };
    if (req.headers['x-sse'] === '1') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.end(`event: message\ndata: ${JSON.stringify(answer)}\n\n`);
      return;
    }
    res.json(answer);
  });
  srv = await listen(app);
  const post = async (token: string, sse: boolean) => {
    const r = await fetch(`${srv.url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2026-07-28', ...(sse ? { 'x-sse': '1' } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } } }),
    });
    const text = await r.text();
    return JSON.parse(sse ? text.split('\n').find((l) => l.startsWith('data:'))!.slice(5) : text) as { result: { tools: { name: string }[]; cacheScope?: unknown } };
  };
  const admin = await fx.token({ sub: 'root', client_id: 'c', scope: 'reports:read admin' });
  const user = await fx.token({ sub: 'alice', client_id: 'c', scope: 'reports:read' });
  for (const sse of [false, true]) {
    const full = await post(admin, sse);
    expect(full.result.tools.map((t) => t.name)).toEqual(['report', 'admin']);
    expect({ sse, cacheScope: full.result.cacheScope }).toEqual({ sse, cacheScope: 'private' });
    const some = await post(user, sse);
    expect(some.result.tools.map((t) => t.name)).toEqual(['report']);
    expect({ sse, cacheScope: some.result.cacheScope }).toEqual({ sse, cacheScope: 'private' });
  }
});
