/**
 * A dual-era MCP endpoint on the SDK v2 server (`@modelcontextprotocol/server`) behind
 * `auth.protect()` with `toolScopes`, `resourceScopes` and the default `bindSessions: true`, for the
 * `sdk-v2-dual-era*` suites; its Express → fetch adapter is the README's ("With the SDK v2").
 *
 * - 2026-07-28 traffic (the `_meta` envelope): `createMcpHandler(factory, { legacy: 'reject' })`;
 * - 2025-era traffic (`isLegacyRequest`): a sessionful `WebStandardStreamableHTTPServerTransport`
 *   per session (the v2 server has no stateful `legacy` posture: its docs route in user land with
 *   `isLegacyRequest` in front of a strict handler); `legacy: 'stateless'` uses the v2 server's
 *   own stateless fallback instead.
 */
import { randomUUID } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import express from 'express';
import { z } from 'zod';
import {
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  McpServer,
  WebStandardStreamableHTTPServerTransport,
  type AuthInfo as SdkAuthInfo,
  type CreateMcpHandlerOptions,
  type McpHttpHandler,
} from '@modelcontextprotocol/server';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

export const V = '2026-07-28';

export interface TaskRecord { owner: string; status: string }

export interface Harness {
  url: URL;
  guard: McpAuthGuard;
  server: HttpServer;
  modern: McpHttpHandler;
  /** Legacy sessions by id. */
  sessions: Map<string, WebStandardStreamableHTTPServerTransport>;
  /** Every handler that ran: `tool:<name>@<sub>`, `tasks/get:<id>`, and `legacy:<METHOD>:<sid>` for each request the legacy leg got. */
  ran: string[];
  tasks: Map<string, TaskRecord>;
  /** Resolved when the Express response of the n-th request closes (server side). */
  closed: Array<Promise<void>>;
  token(scope: string, sub?: string, clientId?: string): Promise<string>;
  close(): Promise<void>;
}

function buildServer(ran: string[], tasks: Map<string, TaskRecord>, authInfo: SdkAuthInfo | undefined, era: 'legacy' | 'modern'): McpServer {
  const mcp = new McpServer(
    { name: 'dual', version: '1.0.0' },
    {
      capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true }, logging: {} },
      // The server author's view: the same for everyone as far as the server knows (SEP-2549 hints).
      cacheHints: {
        'tools/list': { ttlMs: 60_000, cacheScope: 'public' },
        'resources/list': { ttlMs: 60_000, cacheScope: 'public' },
        'resources/read': { ttlMs: 60_000, cacheScope: 'public' },
      },
    },
  );
  const sub = () => String(authInfo?.extra?.sub ?? '');
  for (const name of ['list_notes', 'add_note']) {
    mcp.registerTool(name, { description: `the ${name} tool` }, () => {
      ran.push(`tool:${name}@${sub()}`);
      return { content: [{ type: 'text' as const, text: `${name} done for ${sub()}` }] };
    });
  }
  // A tool that logs before answering (a 2026 answer then upgrades to SSE in `auto` mode).
  mcp.registerTool('chatty', { description: 'logs then answers', inputSchema: { n: z.number().optional() } }, async (_args, ctx) => {
    ran.push(`tool:chatty@${sub()}`);
    await (ctx as unknown as { mcpReq?: { log?: (level: string, data: unknown) => Promise<void> } }).mcpReq?.log?.('info', 'working');
    return { content: [{ type: 'text' as const, text: 'chatty done' }] };
  });
  mcp.registerResource('public-note', 'notes://public/1', { mimeType: 'text/plain' }, async (uri) => { ran.push(`read:${uri.href}@${sub()}`); return { contents: [{ uri: uri.href, text: 'public' }] }; });
  mcp.registerResource('admin-note', 'notes://admin/1', { mimeType: 'text/plain' }, async (uri) => { ran.push(`read:${uri.href}@${sub()}`); return { contents: [{ uri: uri.href, text: 'secret' }] }; });
  // 2025-11-25 task augmentation by hand (params.task) and the 2026 tasks extension (resultType "task").
  mcp.registerTool('start_job', { description: 'a long job' }, () => {
    ran.push(`tool:start_job@${sub()}`);
    const taskId = randomUUID();
    tasks.set(taskId, { owner: sub(), status: 'working' });
    const now = new Date().toISOString();
    const task = { taskId, status: 'working', createdAt: now, lastUpdatedAt: now, ttl: 60_000, pollInterval: 1000 };
    // 2026 (tasks extension): the CreateTaskResult is the result itself; 2025-11-25: result.task.
    return (era === 'modern' ? { resultType: 'task', ...task } : { content: [{ type: 'text', text: 'started' }], task }) as never;
  });
  const params = z.looseObject({ taskId: z.string() });
  const now = () => new Date().toISOString();
  for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel'] as const) {
    try {
      mcp.server.setRequestHandler(method as never, { params } as never, (async (p: { taskId: string }) => {
        ran.push(`${method}:${p.taskId}`);
        const t = tasks.get(p.taskId);
        if (!t) throw new Error('Task not found');
        if (method === 'tasks/result') return { content: [{ type: 'text', text: `result of ${p.taskId}` }] };
        return { taskId: p.taskId, status: t.status, createdAt: now(), lastUpdatedAt: now(), ttl: 60_000 };
      }) as never);
    } catch (err) {
      ran.push(`register-failed:${method}:${(err as Error).message}`);
    }
  }
  return mcp;
}

/**
 * The README's Express → fetch adapter ("With the SDK v2"): the request (method, headers, the body
 * the guard read, an abort signal for when the client leaves) to `answer`, its `Response` back to
 * `res` (head flushed at once, body piped, given up when the client leaves).
 */
export function toFetch(base: URL, answer: (request: Request, req: express.Request) => Promise<Response>): express.RequestHandler {
  return async (req, res) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (k === 'content-length' || k === 'host' || k === 'connection' || k === 'transfer-encoding') continue;
      if (typeof v === 'string') headers.set(k, v);
      else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    }
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const post = req.method === 'POST';
    const request = new Request(new URL(req.originalUrl, base), {
      method: req.method,
      headers,
      signal: abort.signal,
      ...(post && req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
    });
    const response = await answer(request, req);
    res.status(response.status);
    response.headers.forEach((v, k) => res.setHeader(k, v));
    if (!response.body) { res.end(); return; }
    // Send the head now: a GET stream's first bytes may be a keep-alive 15 s away.
    res.flushHeaders();
    const body = Readable.fromWeb(response.body as never);
    res.on('close', () => body.destroy());
    body.pipe(res);
  };
}

export async function startHarness(opts: { responseMode?: CreateMcpHandlerOptions['responseMode']; legacy?: 'sessions' | 'stateless'; maxSubscriptions?: number } = {}): Promise<{ h: Harness; as: LoopbackAS }> {
  const as = await startLoopbackAS();
  const key: TestKey = await makeKey('ES256');
  as.keys = [key.publicJwk];
  const ran: string[] = [];
  const tasks = new Map<string, TaskRecord>();
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const closed: Array<Promise<void>> = [];
  const app = express();
  const server: HttpServer = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
  const guard = mcpAuth({
    resource: url.href,
    issuer: as.issuer,
    toolScopes: { list_notes: ['notes:read'], chatty: ['notes:read'], start_job: ['notes:read'], add_note: ['notes:write'] },
    resourceScopes: { 'notes://public/': ['notes:read'], 'notes://admin/': ['admin'] },
  });
  const factory = (ctx: { authInfo?: SdkAuthInfo; era: 'legacy' | 'modern' }) => buildServer(ran, tasks, ctx.authInfo, ctx.era);
  const modern = createMcpHandler(factory, {
    legacy: opts.legacy === 'stateless' ? 'stateless' : 'reject',
    onerror: () => {},
    ...(opts.responseMode ? { responseMode: opts.responseMode } : {}),
    ...(opts.maxSubscriptions ? { maxSubscriptions: opts.maxSubscriptions } : {}),
  });
  app.use(guard.metadata());
  app.use((req, res, next) => {
    closed.push(new Promise<void>((resolve) => res.on('close', () => resolve())));
    void req;
    next();
  });

  /** The legacy leg: one sessionful transport per 2025 session. */
  async function legacy(request: Request, req: express.Request): Promise<Response> {
    const id = req.headers['mcp-session-id'];
    ran.push(`legacy:${req.method}:${typeof id === 'string' ? id : '-'}`);
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id !== undefined || req.method !== 'POST' || !isInitializeRequest(req.body)) return new Response(null, { status: id !== undefined ? 404 : 400 });
      const created: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => { sessions.set(sid, created); },
        onsessionclosed: (sid) => { sessions.delete(sid); },
      });
      await buildServer(ran, tasks, req.auth as SdkAuthInfo, 'legacy').connect(created);
      transport = created;
    }
    return transport.handleRequest(request, { authInfo: req.auth as SdkAuthInfo, ...(req.method === 'POST' ? { parsedBody: req.body } : {}) });
  }

  app.all('/mcp', guard.protect(), toFetch(url, async (request, req) => {
    const post = req.method === 'POST';
    if (opts.legacy !== 'stateless' && await isLegacyRequest(request, post ? req.body : undefined)) return legacy(request, req);
    return modern.fetch(request, { authInfo: req.auth as SdkAuthInfo, ...(post ? { parsedBody: req.body } : {}) });
  }));

  const sign = tokenBuilder({ issuer: as.issuer, audience: url.href });
  const h: Harness = {
    url, guard, server, modern, sessions, ran, tasks, closed,
    token: (scope, sub = 'user-1', clientId = 'client-1') => sign(key, { scope, sub, client_id: clientId }),
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => {});
      await modern.close();
      await guard.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await as.close();
    },
  };
  return { h, as };
}

let nextId = 1;
export interface RawAnswer { status: number; headers: Headers; body: any; text: string }

/** Parse an SSE body into its data messages. */
export function sseMessages(text: string): any[] {
  return text.split(/\r?\n\r?\n/)
    .map((e) => e.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
    .filter(Boolean)
    .map((d) => JSON.parse(d));
}

async function answer(res: globalThis.Response, id: unknown): Promise<RawAnswer> {
  const text = await res.text();
  let body: any = text;
  const type = res.headers.get('content-type') ?? '';
  if (type.startsWith('application/json') && text) body = JSON.parse(text);
  else if (type.startsWith('text/event-stream')) {
    const msgs = sseMessages(text);
    body = msgs.find((m) => m.id === id) ?? msgs;
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** One 2026-07-28 request (the `_meta` envelope and the standard headers). */
export async function rpc2026(h: Harness, tok: string, method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const id = nextId++;
  const body = {
    jsonrpc: '2.0', id, method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': V,
        'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
      },
    },
  };
  const name = (params.name ?? params.uri ?? params.taskId) as string | undefined;
  const res = await fetch(h.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-protocol-version': V, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}), ...headers,
    },
    body: JSON.stringify(body),
  });
  return answer(res, id);
}

/** A 2025-era session opened by hand: initialize + notifications/initialized; returns the session id. */
export async function open2025(h: Harness, tok: string, version = '2025-11-25'): Promise<string> {
  const init = await rpc2025(h, tok, undefined, 'initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw25', version: '1' } }, version);
  expect(init.status).toBe(200);
  const sid = init.headers.get('mcp-session-id');
  expect(typeof sid).toBe('string');
  const note = await fetch(h.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid!, 'mcp-protocol-version': version },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await note.text();
  expect(note.status).toBe(202);
  return sid!;
}

/** One 2025-era request (no envelope) on a session. */
export async function rpc2025(h: Harness, tok: string, sid: string | undefined, method: string, params: Record<string, unknown> = {}, version = '2025-11-25'): Promise<RawAnswer> {
  const id = nextId++;
  const res = await fetch(h.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tok}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      ...(sid ? { 'mcp-session-id': sid } : {}), ...(method === 'initialize' ? {} : { 'mcp-protocol-version': version }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  return answer(res, id);
}
