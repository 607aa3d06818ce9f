/**
 * `resourceScopes` against the real MCP SDK server: `McpServer` dispatches `resources/read` on
 * `new URL(params.uri).toString()` (WHATWG: an empty port dropped, tabs and newlines removed), so the
 * guard resolves both spellings. With the README's example rules, a `notes:read` token cannot reach
 * `notes://private/b` (`notes:admin`) by spelling it so that the raw string falls under `notes://`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { tokenBuilder } from '../helpers/tokens.js';

const fx = loopbackJwtSuite('http://127.0.0.1:9/mcp');
let server: Server;
let url: string;
let guard: McpAuthGuard;
const served: string[] = [];

beforeAll(async () => {
  const app = express();
  server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  // The README's resourceScopes example, verbatim.
  guard = fx.track(mcpAuth({ resource: url, issuer: fx.as.issuer, resourceScopes: { 'notes://private/': ['notes:admin'], 'notes://': ['notes:read'] } }));
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const mcp = new McpServer({ name: 'notes', version: '1.0.0' });
    mcp.registerResource('public-a', 'notes://public/a', {}, (uri) => { served.push(uri.href); return { contents: [{ uri: uri.href, text: 'public' }] }; });
    mcp.registerResource('private-b', 'notes://private/b', {}, (uri) => { served.push(uri.href); return { contents: [{ uri: uri.href, text: 'TOP SECRET' }] }; });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

async function read(uri: string, scope: string): Promise<{ status: number; text: string }> {
  const token = await tokenBuilder({ issuer: fx.as.issuer, audience: url })(fx.key, { scope });
  const r = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }),
  });
  return { status: r.status, text: await r.text() };
}

test('control: notes:read reads public, is refused private (403)', async () => {
  expect((await read('notes://public/a', 'notes:read')).text).toContain('public');
  expect((await read('notes://private/b', 'notes:read')).status).toBe(403);
  expect((await read('notes://private/b', 'notes:admin')).text).toContain('TOP SECRET');
});

test.each([
  ['an empty port', 'notes://private:/b'],
  ['a tab inside the host', 'notes://pri\tvate/b'],
  ['a newline inside the host', 'notes://priv\nate/b'],
])('a notes:read token cannot read notes://private/b spelled with %s', async (_label, uri) => {
  const before = served.length;
  const res = await read(uri, 'notes:read');
  expect(res.text).not.toContain('TOP SECRET');
  expect(served.slice(before)).not.toContain('notes://private/b');
  expect(res.status).toBe(403);
});
