/**
 * End to end with the real @modelcontextprotocol/sdk: an McpServer behind protect() (stateless
 * StreamableHTTPServerTransport, JSON and SSE modes), a real SDK Client with a bearer token.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { mcpAuth, type AuthInfo, type McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

let as: LoopbackAS;
let key: TestKey;

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
});
afterAll(() => as.close());

interface Harness {
  url: URL;
  ran: string[];
  authSeen: (AuthInfo | undefined)[];
  guard: McpAuthGuard;
  server: Server;
}

/** An MCP server with four tools, one McpServer + transport per request (stateless). */
async function start(mode: { enableJsonResponse: boolean; json: boolean; passBody: boolean; slowList?: boolean }): Promise<Harness> {
  const ran: string[] = [];
  const authSeen: (AuthInfo | undefined)[] = [];
  // The resource URL must be known before the port is: bind first, then build the guard.
  const app = express();
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  const guard = mcpAuth({
    resource: url.href,
    issuer: as.issuer,
    toolScopes: { 'note_*': ['notes:read'], delete_note: ['notes:write'] },
  });
  if (mode.json) app.use(express.json());
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const mcp = new McpServer({ name: 'notes', version: '1.0.0' });
    for (const name of ['note_get', 'note_list', 'delete_note', 'admin_purge']) {
      mcp.registerTool(name, { description: `the ${name} tool` }, (extra) => {
        ran.push(name);
        authSeen.push(extra.authInfo as AuthInfo | undefined);
        return { content: [{ type: 'text', text: `${name} done` }] };
      });
    }
    if (mode.slowList) {
      // Answer tools/list after a turn of the event loop, so the SSE answer streams (no Content-Length).
      const inner = mcp.server as unknown as { _requestHandlers: Map<string, (r: unknown, e: unknown) => Promise<unknown>> };
      const list = inner._requestHandlers.get('tools/list')!;
      inner._requestHandlers.set('tools/list', async (r, e) => {
        await new Promise((resolve) => setImmediate(resolve));
        return list(r, e);
      });
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: mode.enableJsonResponse });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    if (mode.passBody) await transport.handleRequest(req, res, req.body);
    else await transport.handleRequest(req, res);
  });
  app.get('/mcp', guard.protect(), (_req, res) => { res.status(405).set('Allow', 'POST').end(); });
  app.delete('/mcp', guard.protect(), (_req, res) => { res.status(405).set('Allow', 'POST').end(); });
  return { url, ran, authSeen, guard, server };
}

async function stop(h: Harness): Promise<void> {
  await h.guard.close();
  h.server.closeAllConnections();
  await new Promise<void>((resolve) => h.server.close(() => resolve()));
}

async function connect(h: Harness, scope: string): Promise<{ client: Client; token: string }> {
  const token = await tokenBuilder({ issuer: as.issuer, audience: h.url.href })(key, { scope });
  const client = new Client({ name: 'e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(h.url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return { client, token };
}

describe.each([
  ['JSON responses (enableJsonResponse), express.json()', { enableJsonResponse: true, json: true, passBody: true }],
  ['SSE responses, express.json()', { enableJsonResponse: false, json: true, passBody: true }],
  ['SSE responses, no parser (the guard parses; body handed over)', { enableJsonResponse: false, json: false, passBody: true }],
  ['JSON responses, no parser, transport reads req.rawBody', { enableJsonResponse: true, json: false, passBody: false }],
  ['SSE responses streamed (tools/list answered a turn later)', { enableJsonResponse: false, json: true, passBody: true, slowList: true }],
])('MCP SDK end to end: %s', (_label, mode) => {
  let h: Harness;
  beforeAll(async () => { h = await start(mode); });
  afterAll(() => stop(h));

  test('listTools shows only the tools the token may call', async () => {
    const { client } = await connect(h, 'notes:read');
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['note_get', 'note_list']);
    } finally {
      await client.close();
    }
    const writer = await connect(h, 'notes:read notes:write');
    try {
      expect((await writer.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['delete_note', 'note_get', 'note_list']);
    } finally {
      await writer.client.close();
    }
  });

  test('an allowed callTool runs, and its handler sees extra.authInfo', async () => {
    const { client, token } = await connect(h, 'notes:read');
    try {
      const before = h.ran.length;
      const result = await client.callTool({ name: 'note_get', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'note_get done' }]);
      expect(h.ran.slice(before)).toEqual(['note_get']);
      const info = h.authSeen[h.authSeen.length - 1]!;
      expect(info.token).toBe(token);
      expect(info.scopes).toEqual(['notes:read']);
      expect(info.clientId).toBe('client-1');
      expect(info.resource?.href).toBe(h.url.href);
      expect(info.extra?.sub).toBe('user-1');
    } finally {
      await client.close();
    }
  });

  test('a forbidden callTool is refused with 403 before the handler runs', async () => {
    const { client } = await connect(h, 'notes:read');
    try {
      const before = h.ran.length;
      for (const name of ['delete_note', 'admin_purge']) {
        const err = await client.callTool({ name, arguments: {} }).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(StreamableHTTPError);
        expect((err as StreamableHTTPError).code).toBe(403);
      }
      expect(h.ran.length).toBe(before);
    } finally {
      await client.close();
    }
  });

  test('the 403 challenge a client sees names the scope to step up to', async () => {
    const token = await tokenBuilder({ issuer: as.issuer, audience: h.url.href })(key, { scope: 'notes:read' });
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'delete_note', arguments: {} } }),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+", scope="notes:write notes:read", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"$/);
    expect(((await res.json()) as { id: unknown }).id).toBe(11);
  });
});
