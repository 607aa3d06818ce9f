/**
 * End to end with the MCP TypeScript SDK v2 (`@modelcontextprotocol/server` and
 * `@modelcontextprotocol/client` 2.4.0), protocol revision 2026-07-28: no sessions, a `_meta`
 * envelope on every request, `server/discover`, `Mcp-Method`/`Mcp-Name` headers, the tasks
 * extension, `subscriptions/listen`, `cacheScope` on list results.
 *
 * The server is the v2 `createMcpHandler(factory)` (a web-standard `fetch(Request) => Response`
 * handler) mounted behind `app.post('/mcp', auth.protect(), …)` through a small Express → fetch
 * adapter (what `toNodeHandler` of `@modelcontextprotocol/node` does), `req.auth` handed over as
 * `authInfo` and the body the guard parsed as `parsedBody`. The client is the v2 `Client` with
 * `versionNegotiation: { mode: 'auto' }` (the v2 default is still the 2025 `initialize`
 * handshake), the token given through `authProvider`; task and listen requests are sent by hand
 * (the v2 client has no tasks runtime), with the 2026 envelope and headers.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { z } from 'zod';
import { createMcpHandler, McpServer, type AuthInfo as SdkAuthInfo, type McpHttpHandler } from '@modelcontextprotocol/server';
import {
  Client,
  InMemoryResponseCacheStore,
  InsufficientScopeError,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { toFetch } from '../helpers/v2-dual-era.js';

const V = '2026-07-28';

let as: LoopbackAS;
let key: TestKey;

interface TaskRecord { owner: string; status: string; updates: unknown[] }

interface Harness {
  url: URL;
  guard: McpAuthGuard;
  server: HttpServer;
  handler: McpHttpHandler;
  /** Every handler that ran: `tool:<name>`, `tasks/get:<id>`, … */
  ran: string[];
  tasks: Map<string, TaskRecord>;
  /** The guard's decision events (onEvent). */
  events: GuardEvent[];
}

let h: Harness;

function buildServer(ran: string[], tasks: Map<string, TaskRecord>, authInfo: SdkAuthInfo | undefined): McpServer {
  const mcp = new McpServer(
    { name: 'notes', version: '1.0.0' },
    {
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } },
      // The tool list is the same for everyone as far as the server knows: a server author may well
      // call it public (2026-07-28 SEP-2549 cache hints).
      cacheHints: { 'tools/list': { ttlMs: 60_000, cacheScope: 'public' }, 'resources/list': { ttlMs: 60_000, cacheScope: 'public' } },
    },
  );
  for (const name of ['list_notes', 'add_note', 'admin_purge']) {
    mcp.registerTool(name, { description: `the ${name} tool` }, () => {
      ran.push(`tool:${name}`);
      return { content: [{ type: 'text' as const, text: `${name} done` }] };
    });
  }
  // A tool that answers with a task (Tasks extension, io.modelcontextprotocol/tasks: resultType "task",
  // taskId at the top level; the request carries no params.task marker).
  mcp.registerTool('start_job', { description: 'a long job' }, () => {
    ran.push('tool:start_job');
    const taskId = randomUUID();
    tasks.set(taskId, { owner: String(authInfo?.extra?.sub ?? ''), status: 'working', updates: [] });
    const now = new Date().toISOString();
    return { resultType: 'task', taskId, status: 'working', createdAt: now, lastUpdatedAt: now, ttlMs: 60_000, pollIntervalMs: 1000 } as never;
  });
  mcp.registerResource('public-note', 'notes://public/1', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'public' }] }));
  mcp.registerResource('admin-note', 'notes://admin/1', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'secret' }] }));
  // The three methods of the Tasks extension, registered with explicit schemas (SDK v2 has no task
  // runtime of its own; this is how a server adds them).
  const params = z.looseObject({ taskId: z.string() });
  const now = () => new Date().toISOString();
  mcp.server.setRequestHandler('tasks/get', { params }, async (p) => {
    ran.push(`tasks/get:${p.taskId}`);
    const t = tasks.get(p.taskId);
    if (!t) throw new Error('Task not found');
    return { taskId: p.taskId, status: t.status, createdAt: now(), lastUpdatedAt: now(), ttlMs: 60_000 } as never;
  });
  mcp.server.setRequestHandler('tasks/update', { params }, async (p) => {
    ran.push(`tasks/update:${p.taskId}`);
    tasks.get(p.taskId)?.updates.push((p as Record<string, unknown>).inputResponses);
    return {} as never;
  });
  mcp.server.setRequestHandler('tasks/cancel', { params }, async (p) => {
    ran.push(`tasks/cancel:${p.taskId}`);
    const t = tasks.get(p.taskId);
    if (t) t.status = 'cancelled';
    return {} as never;
  });
  return mcp;
}

async function startHarness(): Promise<Harness> {
  const ran: string[] = [];
  const tasks = new Map<string, TaskRecord>();
  const events: GuardEvent[] = [];
  const app = express();
  const server: HttpServer = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  const guard = mcpAuth({
    resource: url.href,
    issuer: as.issuer,
    toolScopes: { list_notes: ['notes:read'], start_job: ['notes:read'], add_note: ['notes:write'] },
    resourceScopes: { 'notes://public/': ['notes:read'], 'notes://admin/': ['admin'] },
    onEvent: (e) => { if (e.type === 'allow' || e.type === 'deny') events.push(e); },
  });
  const handler = createMcpHandler((ctx) => buildServer(ran, tasks, ctx.authInfo), { onerror: () => {} });
  app.use(guard.metadata());
  // The README's Express → fetch adapter; the guard has parsed the body (its tool policy needs it),
  // handed over as parsedBody.
  app.post('/mcp', guard.protect(), toFetch(url, (request, req) => handler.fetch(request, { authInfo: req.auth, parsedBody: req.body })));
  app.all('/mcp', (_req, res) => { res.status(405).set('Allow', 'POST').end(); });
  return { url, guard, server, handler, ran, tasks, events };
}

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('ES256');
  as.keys = [key.publicJwk];
  h = await startHarness();
});
afterAll(async () => {
  await h.handler.close();
  await h.guard.close();
  h.server.closeAllConnections();
  await new Promise<void>((resolve) => h.server.close(() => resolve()));
  await as.close();
});

async function token(scope: string, sub = 'user-1'): Promise<string> {
  return tokenBuilder({ issuer: as.issuer, audience: h.url.href })(key, { scope, sub });
}

/** A v2 client speaking 2026-07-28 (it probes with server/discover), the token from an authProvider. */
async function connect(tok: string | undefined, extra: { cachePartition?: string; responseCacheStore?: InMemoryResponseCacheStore } = {}): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'review', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' }, ...extra });
  const transport = new StreamableHTTPClientTransport(h.url, { authProvider: { token: async () => tok } });
  await client.connect(transport);
  return { client, transport };
}

let nextId = 1;
interface RawAnswer { status: number; headers: Headers; body: any }

/** One 2026-07-28 request by hand: the per-request _meta envelope and the standard headers. */
async function rpc(tok: string, method: string, params: Record<string, unknown> = {}, opts: { headers?: Record<string, string>; mcpName?: string | null } = {}): Promise<RawAnswer> {
  const body = {
    jsonrpc: '2.0',
    id: nextId++,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': V,
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
      },
    },
  };
  const name = opts.mcpName !== undefined ? opts.mcpName : ((params.name ?? params.uri ?? params.taskId) as string | undefined);
  const headers: Record<string, string> = {
    authorization: `Bearer ${tok}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': V,
    'mcp-method': method,
    ...(name != null ? { 'mcp-name': name } : {}),
    ...opts.headers,
  };
  const res = await fetch(h.url, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  let parsed: any = text;
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('application/json') && text) parsed = JSON.parse(text);
  else if (type.startsWith('text/event-stream')) {
    const events = text.split(/\n\n/).map((e) => e.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n')).filter(Boolean);
    parsed = events.map((e) => JSON.parse(e)).find((m) => m.id === body.id) ?? events;
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

describe('v2 client: discovery, auth challenges', () => {
  test('the 2026 probe (server/discover) passes with base scopes and the client negotiates 2026-07-28', async () => {
    const { client } = await connect(await token('notes:read'));
    try {
      expect(client.getNegotiatedProtocolVersion?.() ?? (client as any)._negotiatedProtocolVersion).toBe(V);
    } finally {
      await client.close();
    }
  });

  test('without a token the v2 client gets 401 and finds resource_metadata in the challenge', async () => {
    const client = new Client({ name: 'review', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    const transport = new StreamableHTTPClientTransport(h.url, { authProvider: { token: async () => undefined } });
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    const rm = (transport as any)._resourceMetadataUrl as URL | undefined;
    expect(rm?.href).toBe(`${h.url.origin}/.well-known/oauth-protected-resource/mcp`);
  });
});

describe('v2 client: tools', () => {
  test('tools/list is filtered to the token\'s tools', async () => {
    const { client } = await connect(await token('notes:read'));
    try {
      const { tools } = await client.listTools(undefined, { cache: 'bypass' } as never);
      expect(tools.map((t) => t.name).sort()).toEqual(['list_notes', 'start_job']);
    } finally {
      await client.close();
    }
  });

  test('a filtered tools/list the server marked cacheScope "public" goes out "private" (it is this token\'s view)', async () => {
    const r = await rpc(await token('notes:read'), 'tools/list');
    expect(r.status).toBe(200);
    expect(r.body.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(['list_notes', 'start_job']);
    expect(r.body.result.cacheScope).toBe('private');
  });

  test('through a shared v2 response cache, a reader is never served the writer\'s tool list', async () => {
    const store = new InMemoryResponseCacheStore();
    const writer = await connect(await token('notes:read notes:write', 'writer'), { responseCacheStore: store, cachePartition: 'writer' });
    const writerTools = (await writer.client.listTools()).tools.map((t) => t.name).sort();
    await writer.client.close();
    expect(writerTools).toEqual(['add_note', 'list_notes', 'start_job']);
    const reader = await connect(await token('notes:read', 'reader'), { responseCacheStore: store, cachePartition: 'reader' });
    try {
      const readerTools = (await reader.client.listTools()).tools.map((t) => t.name).sort();
      expect(readerTools).toEqual(['list_notes', 'start_job']);
    } finally {
      await reader.client.close();
    }
  });

  test('an allowed tools/call runs', async () => {
    const { client } = await connect(await token('notes:read'));
    try {
      const before = h.ran.length;
      const result = await client.callTool({ name: 'list_notes', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'list_notes done' }]);
      expect(h.ran.slice(before)).toEqual(['tool:list_notes']);
    } finally {
      await client.close();
    }
  });

  test('a forbidden tools/call is 403 insufficient_scope; the handler never runs; the v2 client throws InsufficientScopeError with the scope', async () => {
    const tok = await token('notes:read');
    const before = h.ran.length;
    const raw = await rpc(tok, 'tools/call', { name: 'add_note', arguments: {} });
    expect(raw.status).toBe(403);
    const challenge = raw.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer error="insufficient_scope", /);
    expect(challenge).toMatch(/ scope="[^"]*\bnotes:write\b[^"]*"/);
    expect(challenge).toContain(`resource_metadata="${h.url.origin}/.well-known/oauth-protected-resource/mcp"`);
    const { client } = await connect(tok);
    try {
      const err = await client.callTool({ name: 'add_note', arguments: {} }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InsufficientScopeError);
      expect((err as InsufficientScopeError).requiredScope?.split(' ')).toContain('notes:write');
      expect((err as InsufficientScopeError).resourceMetadataUrl?.href).toBe(`${h.url.origin}/.well-known/oauth-protected-resource/mcp`);
    } finally {
      await client.close();
    }
    expect(h.ran.slice(before)).toEqual([]);
  });
});

describe('2026-07-28 transport rules', () => {
  test('an Mcp-Session-Id the guard did not bind to the token is refused (404) on a 2026 request too: a server that also speaks 2025 may route on it', async () => {
    const before = h.ran.length;
    const r = await rpc(await token('notes:read'), 'tools/call', { name: 'list_notes', arguments: {} }, { headers: { 'mcp-session-id': 'left-over-2025-session' } });
    expect(r.status).toBe(404);
    expect(r.body.error.data.code).toBe('SESSION_NOT_FOUND');
    expect(h.ran.slice(before)).toEqual([]);
  });

  test('a v2 client in its default (2025 "legacy") mode works through the stateless legacy fallback', async () => {
    const client = new Client({ name: 'review', version: '1.0.0' });
    const tok = await token('notes:read');
    await client.connect(new StreamableHTTPClientTransport(h.url, { authProvider: { token: async () => tok } }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['list_notes', 'start_job']);
      expect((await client.callTool({ name: 'list_notes', arguments: {} })).content).toEqual([{ type: 'text', text: 'list_notes done' }]);
    } finally {
      await client.close();
    }
  });

  test('Mcp-Name naming another tool than the body: the guard refuses the mismatch with the code the v2 server would use (-32020); no tool runs', async () => {
    const before = h.ran.length;
    const r = await rpc(await token('notes:read'), 'tools/call', { name: 'list_notes', arguments: {} }, { mcpName: 'add_note' });
    expect(r.status).toBe(400);
    expect(r.body?.error?.code).toBe(-32020);
    expect(r.body.error.data.code).toBe('HEADER_MISMATCH');
    expect(h.ran.slice(before)).toEqual([]);
  });

  test('Mcp-Name naming an allowed tool, body naming a forbidden one: refused as a mismatch (400 -32020), never run', async () => {
    const before = h.ran.length;
    const r = await rpc(await token('notes:read'), 'tools/call', { name: 'add_note', arguments: {} }, { mcpName: 'list_notes' });
    expect(r.status).toBe(400);
    expect(r.body?.error?.code).toBe(-32020);
    expect(h.ran.slice(before)).toEqual([]);
  });
});

describe('Tasks extension (io.modelcontextprotocol/tasks) under toolScopes', () => {
  let ownerTok: string;
  let otherTok: string;
  let taskId: string;

  beforeAll(async () => {
    ownerTok = await token('notes:read', 'alice');
    otherTok = await token('notes:read', 'mallory');
    const r = await rpc(ownerTok, 'tools/call', { name: 'start_job', arguments: {} });
    expect(r.status).toBe(200);
    expect(r.body.result.resultType).toBe('task');
    taskId = r.body.result.taskId;
    expect(typeof taskId).toBe('string');
  });

  test('the owner\'s tasks/get works (the task was learnt from resultType "task" and result.taskId)', async () => {
    const r = await rpc(ownerTok, 'tasks/get', { taskId });
    expect(r.status).toBe(200);
    expect(r.body.result.taskId).toBe(taskId);
  });

  test('the owner\'s tasks/update works', async () => {
    const r = await rpc(ownerTok, 'tasks/update', { taskId, inputResponses: {} });
    expect(r.status).toBe(200);
  });

  test('another user\'s tasks/get is refused', async () => {
    const before = h.ran.length;
    const r = await rpc(otherTok, 'tasks/get', { taskId });
    expect(r.status).toBe(403);
    expect(h.ran.slice(before)).toEqual([]);
  });

  test('another user\'s tasks/update is refused (403 task_not_owned) and never reaches the server', async () => {
    const before = h.ran.length;
    const r = await rpc(otherTok, 'tasks/update', { taskId, inputResponses: { name: { action: 'accept', content: { input: 'mallory' } } } });
    expect(h.ran.slice(before)).toEqual([]);
    expect(r.status).toBe(403);
  });

  test('the owner\'s tasks/cancel works', async () => {
    const r = await rpc(ownerTok, 'tasks/cancel', { taskId });
    expect(r.status).toBe(200);
  });

  test('another user\'s tasks/cancel is refused', async () => {
    const before = h.ran.length;
    const r = await rpc(otherTok, 'tasks/cancel', { taskId });
    expect(r.status).toBe(403);
    expect(h.ran.slice(before)).toEqual([]);
  });
});

describe('subscriptions/listen', () => {
  /** Open a listen stream; resolves with the status and, for a 200, the first event (the ack), then closes it. */
  async function listen(tok: string, notifications: Record<string, unknown>, afterAck?: () => void): Promise<{ status: number; first?: any; second?: any; wwwAuthenticate: string | null }> {
    const abort = new AbortController();
    const body = {
      jsonrpc: '2.0', id: nextId++, method: 'subscriptions/listen',
      params: {
        notifications,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': V,
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
        },
      },
    };
    const res = await fetch(h.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': V, 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify(body),
    });
    const out: { status: number; first?: any; second?: any; wwwAuthenticate: string | null } = { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
    if (res.status === 200 && res.body) {
      const reader = res.body.getReader();
      let buf = '';
      /** The next SSE event with data (comments, keep-alives skipped). */
      const nextEvent = async (): Promise<any> => {
        for (;;) {
          const end = buf.indexOf('\n\n');
          if (end !== -1) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
            if (data) return JSON.parse(data);
            continue;
          }
          const { value, done } = await reader.read();
          if (done) return undefined;
          buf += Buffer.from(value).toString('utf8');
        }
      };
      out.first = await nextEvent();
      if (afterAck) {
        afterAck();
        out.second = await nextEvent();
      }
      abort.abort();
      await reader.cancel().catch(() => {});
    } else {
      await res.text();
    }
    return out;
  }

  test('a listen for list changes passes with base scopes and is acknowledged', async () => {
    const r = await listen(await token('notes:read'), { toolsListChanged: true });
    expect(r.status).toBe(200);
    expect(r.first?.method).toBe('notifications/subscriptions/acknowledged');
  });

  test('resourceSubscriptions naming a URI outside the token\'s resourceScopes is refused (403), as resources/subscribe is', async () => {
    const tok = await token('notes:read');
    expect((await rpc(tok, 'resources/read', { uri: 'notes://admin/1' })).status).toBe(403);
    // Were it let through, the server would acknowledge it and deliver the admin resource's updates.
    const r = await listen(tok, { resourceSubscriptions: ['notes://admin/1'] }, () => h.handler.notify.resourceUpdated('notes://admin/1'));
    expect({ status: r.status, ack: r.first?.params?.notifications, delivered: r.second?.params?.uri }).toEqual({ status: 403, ack: undefined, delivered: undefined });
  });

  test('notifications.taskIds naming another user\'s task is refused (403 task_not_owned)', async () => {
    const alice = await token('notes:read', 'alice');
    const created = await rpc(alice, 'tools/call', { name: 'start_job', arguments: {} });
    const foreign = created.body.result.taskId as string;
    const r = await listen(await token('notes:read', 'mallory'), { taskIds: [foreign] });
    expect(r.status).toBe(403);
  });
});
