/**
 * The SDK's stateful example (transports by session id, an event store, the GET stream with its
 * `Last-Event-ID` reconnection, elicitation, DELETE) behind the guard exactly as the README puts
 * it, driven by the SDK client: every legitimate step works (a token swapped or refreshed mid-session
 * by the same user and client keeps the session), and a second user is kept out of the first's
 * session (404) while using his own.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

import { ElicitRequestSchema, LoggingMessageNotificationSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { EventLog } from '../helpers/event-log.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

let as: LoopbackAS;
let key: TestKey;
let http: Server;
let url: URL;
let guard: McpAuthGuard;
let sign: ReturnType<typeof tokenBuilder>;
const transports = new Map<string, StreamableHTTPServerTransport>();
const getArrived: Array<() => void> = [];
const log: string[] = [];
let step = '';
afterAll(() => { if (step !== 'done') console.log('STUCK AT', step, log); });

function buildServer(): McpServer {
  const mcp = new McpServer({ name: 'stateful', version: '1.0.0' }, { capabilities: { logging: {} } });
  mcp.registerTool('whoami', { description: 'who' }, async (extra) => ({
    content: [{ type: 'text', text: `${String(extra.authInfo?.extra?.sub)}/${extra.authInfo?.clientId}` }],
  }));
  mcp.registerTool('ask', { description: 'elicits', inputSchema: { q: z.string() } }, async ({ q }) => {
    const r = await mcp.server.elicitInput({ mode: 'form', message: q, requestedSchema: { type: 'object', properties: { a: { type: 'string' } } } } as never);
    return { content: [{ type: 'text', text: `answer=${JSON.stringify(r.content ?? null)}` }] };
  });
  mcp.registerTool('broadcast', { description: 'notify on GET stream', inputSchema: { text: z.string(), drop: z.boolean().optional() } }, async ({ text, drop }, extra) => {
    if (drop) extra.closeStandaloneSSEStream?.();
    await mcp.server.notification({ method: 'notifications/message', params: { level: 'info', data: text } });
    return { content: [{ type: 'text', text: 'sent' }] };
  });
  return mcp;
}

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  const app = express();
  http = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`);
  sign = tokenBuilder({ issuer: as.issuer, audience: url.href });
  guard = mcpAuth({ resource: url.href, issuer: as.issuer, toolScopes: { '*': ['mcp'] } });
  await guard.ready();
  app.use(guard.metadata());
  app.post('/mcp', guard.protect(), express.json({ limit: '4mb' }), async (req, res) => {
    log.push(`POST ${String(req.headers['mcp-session-id'] ?? '-')}`);
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid || !isInitializeRequest(req.body)) { res.status(sid ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'bad' }, id: null }); return; }
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new EventLog(),
        onsessioninitialized: (id) => { transports.set(id, t); },
      });
      t.onclose = () => { if (t.sessionId) transports.delete(t.sessionId); };
      const mcp = buildServer();
      await mcp.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res, req.body);
  });
  const other = async (req: express.Request, res: express.Response) => {
    log.push(`${req.method} ${String(req.headers['mcp-session-id'] ?? '-')} ${String(req.headers['last-event-id'] ?? '')}`);
    const sid = req.headers['mcp-session-id'] as string | undefined;
    const transport = sid ? transports.get(sid) : undefined;
    if (!transport) { res.status(404).end(); return; }
    if (req.method === 'GET') getArrived.splice(0).forEach((f) => f());
    await transport.handleRequest(req, res);
  };
  app.get('/mcp', guard.protect(), other);
  app.delete('/mcp', guard.protect(), other);
});

afterAll(async () => {
  for (const t of transports.values()) await t.close();
  await guard.close();
  await new Promise((r) => http.close(() => r(undefined)));
  http.closeAllConnections?.();
  await as.close();
});

function provider(token: { current: string }): OAuthClientProvider {
  return {
    get redirectUrl() { return 'http://127.0.0.1/cb'; },
    get clientMetadata() { return { redirect_uris: ['http://127.0.0.1/cb'], client_name: 'x' }; },
    clientInformation: () => ({ client_id: 'client-1' }),
    tokens: () => ({ access_token: token.current, token_type: 'Bearer' }),
    saveTokens: () => undefined,
    redirectToAuthorization: () => { throw new Error('no interactive auth in this test'); },
    saveCodeVerifier: () => undefined,
    codeVerifier: () => 'v',
  };
}

async function connect(token: { current: string }) {
  const notes: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const client = new Client({ name: 'c', version: '1' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async (r) => ({ action: 'accept', content: { a: `re:${(r.params as { message: string }).message}` } }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const text = String(n.params.data);
    notes.push(text);
    for (const w of waiters.filter((w) => w.text === text)) w.resolve();
  });
  const errors: unknown[] = [];
  client.onerror = (e) => errors.push(e);
  const gotGet = new Promise<void>((r) => getArrived.push(r));
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider(token), reconnectionOptions: { initialReconnectionDelay: 1, maxReconnectionDelay: 5, reconnectionDelayGrowFactor: 1, maxRetries: 3 } });
  await client.connect(transport);
  await gotGet;
  const note = (text: string) => new Promise<void>((resolve) => { if (notes.includes(text)) resolve(); else waiters.push({ text, resolve }); });
  return { client, transport, notes, note, errors };
}

const text = (r: unknown) => ((r as { content: Array<{ text: string }> }).content[0]!.text);

test('stateful example behind the guard: full legit flow and a second user kept out', async () => {
  const tokA = { current: await sign(key, { sub: 'alice', client_id: 'client-1', scope: 'mcp' }) };
  const tokB = { current: await sign(key, { sub: 'bob', client_id: 'client-1', scope: 'mcp' }) };
  step='connect a';
  const a = await connect(tokA);
  step='connect b';
  const b = await connect(tokB);
  expect(text(await a.client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice/client-1');
  expect(text(await b.client.callTool({ name: 'whoami', arguments: {} }))).toBe('bob/client-1');
  expect((await a.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['ask', 'broadcast', 'whoami']);

  // elicitation on the POST stream
  step = '// elicitation on the POST stream';
  expect(text(await a.client.callTool({ name: 'ask', arguments: { q: 'hi' } }))).toBe('answer={"a":"re:hi"}');

  // GET stream notification
  step = '// GET stream notification';
  const n1 = a.note('n1');
  await a.client.callTool({ name: 'broadcast', arguments: { text: 'n1' } });
  await n1;

  // GET stream dropped by the server, event stored meanwhile, client reconnects with Last-Event-ID
  step = '// GET stream dropped by the server, event stored meanwhile, client reconnects with Last-Event-ID';
  const reGet = new Promise<void>((r) => getArrived.push(r));
  const n2 = a.note('n2');
  await a.client.callTool({ name: 'broadcast', arguments: { text: 'n2', drop: true } });
  await reGet;
  await n2;
  expect(log.some((l) => l.startsWith(`GET ${a.transport.sessionId} `) && !l.endsWith(' '))).toBe(true);

  // token refresh mid-session (same user, same client)
  step = '// token refresh mid-session (same user, same client)';
  tokA.current = await sign(key, { sub: 'alice', client_id: 'client-1', scope: 'mcp' });
  expect(text(await a.client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice/client-1');

  // bob presenting alice's session: 404
  step = "// bob presenting alice's session: 404";
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${tokB.current}`, 'mcp-session-id': a.transport.sessionId!, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }) });
  expect(res.status).toBe(404);

  const before = [...a.errors];
  // terminate
  step = '// terminate';
  await a.transport.terminateSession();
  expect(a.transport.sessionId).toBeUndefined();
  expect(text(await b.client.callTool({ name: 'whoami', arguments: {} }))).toBe('bob/client-1');
  await b.transport.terminateSession();
  await a.client.close();
  await b.client.close();
  step = 'done';
  expect(before.filter((e) => !String(e).includes('SSE stream disconnected'))).toEqual([]);
});

test('expired token mid-session: 401, the SDK client refreshes through the AS, same session goes on', async () => {
  // A token endpoint for the refresh grant (the loopback AS has none): mint alice's next token.
  const tokenApp = express();
  const grants: string[] = [];
  tokenApp.post('/token', express.urlencoded({ extended: false }), async (req, res) => {
    grants.push(String(req.body.grant_type));
    res.json({ access_token: await sign(key, { sub: 'alice', client_id: 'client-1', scope: 'mcp' }), token_type: 'Bearer', expires_in: 600, refresh_token: 'r2' });
  });
  const ts: Server = await new Promise((resolve) => { const s = tokenApp.listen(0, '127.0.0.1', () => resolve(s)); });
  as.metadata = { token_endpoint: `http://127.0.0.1:${(ts.address() as AddressInfo).port}/token` };
  const now = Math.floor(Date.now() / 1000);
  let tokens = { access_token: await sign(key, { sub: 'alice', client_id: 'client-1', scope: 'mcp' }), token_type: 'Bearer', refresh_token: 'r1' };
  const p: OAuthClientProvider = { ...provider({ current: '' }), tokens: () => tokens, saveTokens: (t) => { tokens = t as typeof tokens; } };
  const client = new Client({ name: 'c', version: '1' });
  const transport = new StreamableHTTPClientTransport(url, { authProvider: p });
  try {
    await client.connect(transport);
    const sid = transport.sessionId;
    tokens = { ...tokens, access_token: await sign(key, { sub: 'alice', client_id: 'client-1', scope: 'mcp', iat: now - 120, exp: now - 60 }) };
    expect(text(await client.callTool({ name: 'whoami', arguments: {} }))).toBe('alice/client-1');
    expect(grants).toEqual(['refresh_token']);
    expect(transport.sessionId).toBe(sid);
    await transport.terminateSession();
  } finally {
    await client.close();
    ts.closeAllConnections();
    await new Promise((r) => ts.close(() => r(undefined)));
    as.metadata = {};
  }
});
