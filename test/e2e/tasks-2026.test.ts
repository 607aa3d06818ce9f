/**
 * MCP 2026-07-28 messages under a tool policy, against a small server of that revision's shapes
 * behind `protect()` (the tasks extension `io.modelcontextprotocol/tasks`; `subscriptions/listen`;
 * `cacheScope` on list results), JSON answers:
 * - a `tools/call` whose client capabilities declare the tasks extension may be answered with a
 *   task (`resultType: "task"`, `taskId` in `result` itself): that task is bound to the caller's
 *   identity, as a 2025-11-25 `params.task` one is; `tasks/get`, `tasks/update`, `tasks/cancel` by
 *   another identity get 403 `task_not_owned` and never reach the server;
 * - `subscriptions/listen` naming another identity's task in `notifications.taskIds` (its
 *   `notifications/tasks` carry the task's result) is refused alike; its `resourceSubscriptions`
 *   are checked against `resourceScopes` as `resources/read` is;
 * - a list answer the policy looked at, and a `resources/read` answer under `resourceScopes`, is the
 *   caller's own view: `cacheScope: "public"`, or none (the field is required: a result without it is taken for shareable), is sent
 *   as `"private"` (a shared cache must not serve it across authorizations), filtered or not.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const VERSION = '2026-07-28';
const TASKS = 'io.modelcontextprotocol/tasks';

interface Server2026 {
  /** Methods that reached the server (after the guard). */
  seen: string[];
  /** Tasks the server holds: id → status. */
  tasks: Map<string, string>;
  rpc(token: string, method: string, params?: Record<string, unknown>): Promise<{ status: number; challenge: string | null; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

const servers: Server2026[] = [];
afterAll(async () => { for (const s of servers) await s.close(); });

/** `_meta` of a 2026-07-28 request, with the tasks extension declared unless `tasks` is false. */
function meta(tasks = true): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': VERSION,
    'io.modelcontextprotocol/clientCapabilities': tasks ? { extensions: { [TASKS]: {} } } : {},
  };
}

async function start(guard: Partial<Options>): Promise<Server2026> {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, ...guard } as Options));
  const seen: string[] = [];
  const tasks = new Map<string, string>();
  const app = express();
  app.use(express.json());
  app.post('/mcp', auth.protect(), (req, res) => {
    const { id, method, params } = req.body as { id: number; method: string; params: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    seen.push(method);
    const answer = (result: Record<string, unknown>) => res.json({ jsonrpc: '2.0', id, result: { resultType: 'complete', ...result } });
    switch (method) {
      case 'tools/list':
        return answer({ tools: [{ name: 'report', inputSchema: { type: 'object' } }, { name: 'admin', inputSchema: { type: 'object' } }], ttlMs: 60_000, cacheScope: 'public' });
      case 'resources/list':
        // A 2026 result that leaves the (required) cacheScope out.
        return answer({ resources: [{ uri: 'notes://1', name: 'n1' }, { uri: 'admin://x', name: 'a' }], ttlMs: 60_000 });
      case 'resources/read':
        return answer({ contents: [{ uri: params.uri, text: `content of ${String(params.uri)}` }], ttlMs: 3_600_000, cacheScope: 'public' });
      case 'tools/call': {
        const declared = params._meta?.['io.modelcontextprotocol/clientCapabilities']?.extensions?.[TASKS] !== undefined;
        if (!declared) return answer({ content: [{ type: 'text', text: 'done at once' }] });
        const taskId = randomUUID();
        tasks.set(taskId, 'working');
        return answer({ resultType: 'task', taskId, status: 'working', createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttlMs: 60_000 });
      }
      case 'tasks/get':
        return answer({ taskId: params.taskId, status: tasks.get(params.taskId) ?? 'unknown' });
      case 'tasks/update':
        return answer({});
      case 'tasks/cancel':
        tasks.set(params.taskId, 'cancelled');
        return answer({});
      case 'subscriptions/listen':
        return answer({});
      default:
        return res.status(400).json({ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } });
    }
  });
  const srv: Listening = await listen(app);
  const s: Server2026 = {
    seen,
    tasks,
    async rpc(token, method, params = {}) {
      const r = await fetch(`${srv.url}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': VERSION, 'Mcp-Method': method },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { _meta: meta(), ...params } }),
      });
      return { status: r.status, challenge: r.headers.get('www-authenticate'), body: await r.json() };
    },
    close: () => srv.close(),
  };
  servers.push(s);
  return s;
}

const alice = () => fx.token({ sub: 'alice', client_id: 'client-a', scope: 'reports:read notes:read' });
const bob = () => fx.token({ sub: 'bob', client_id: 'client-b', scope: 'reports:read notes:read' });

describe('2026-07-28 tasks (extension io.modelcontextprotocol/tasks) are their creator\'s', () => {
  test("a task answered as resultType \"task\" is bound: another identity can neither get, update nor cancel it; its creator can", async () => {
    const s = await start({ toolScopes: { report: ['reports:read'], '*': [] } });
    const a = await alice();
    const created = await s.rpc(a, 'tools/call', { name: 'report', arguments: {} });
    expect(created.status).toBe(200);
    expect(created.body.result.resultType).toBe('task');
    const taskId = created.body.result.taskId as string;

    const b = await bob();
    const before = s.seen.length;
    for (const [method, params] of [
      ['tasks/get', { taskId }],
      ['tasks/update', { taskId, inputResponses: { name: { action: 'accept', content: { input: 'mallory' } } } }],
      ['tasks/cancel', { taskId }],
    ] as const) {
      const r = await s.rpc(b, method, params);
      expect({ method, status: r.status }).toEqual({ method, status: 403 });
      expect(r.challenge).toMatch(/^Bearer error="insufficient_scope"/);
      expect(r.body.error.data.code).toBe('FORBIDDEN');
    }
    expect(s.seen.length).toBe(before);
    expect(s.tasks.get(taskId)).toBe('working');

    expect((await s.rpc(a, 'tasks/get', { taskId })).body.result.status).toBe('working');
    expect((await s.rpc(a, 'tasks/update', { taskId, inputResponses: {} })).status).toBe(200);
    expect((await s.rpc(a, 'tasks/cancel', { taskId })).status).toBe(200);
    expect(s.tasks.get(taskId)).toBe('cancelled');
  });

  test('subscriptions/listen: taskIds must all be the caller\'s (403 task_not_owned otherwise), and a list of strings (400)', async () => {
    const s = await start({ toolScopes: { report: ['reports:read'], '*': [] } });
    const a = await alice();
    const taskId = (await s.rpc(a, 'tools/call', { name: 'report', arguments: {} })).body.result.taskId as string;
    const before = s.seen.length;
    const stolen = await s.rpc(await bob(), 'subscriptions/listen', { notifications: { taskIds: [taskId] } });
    expect(stolen.status).toBe(403);
    expect(stolen.challenge).not.toMatch(/scope="/);
    expect((await s.rpc(a, 'subscriptions/listen', { notifications: { taskIds: [taskId, 'made-up'] } })).status).toBe(403);
    expect((await s.rpc(a, 'subscriptions/listen', { notifications: { taskIds: taskId } })).status).toBe(400);
    expect(s.seen.length).toBe(before);
    expect((await s.rpc(a, 'subscriptions/listen', { notifications: { taskIds: [taskId], toolsListChanged: true } })).status).toBe(200);
    expect((await s.rpc(await bob(), 'subscriptions/listen', { notifications: { toolsListChanged: true } })).status).toBe(200);
  });

  test('a tools/call whose client does not declare the extension creates no task: nothing is bound, and a plain result passes', async () => {
    const s = await start({ toolScopes: { report: ['reports:read'], '*': [] } });
    const a = await alice();
    const plain = await s.rpc(a, 'tools/call', { name: 'report', arguments: {}, _meta: meta(false) });
    expect(plain.status).toBe(200);
    expect(plain.body.result.content[0].text).toBe('done at once');
    expect(s.tasks.size).toBe(0);
  });
});

test('subscriptions/listen resourceSubscriptions are checked against resourceScopes like resources/read', async () => {
  const s = await start({ resourceScopes: { 'notes://': ['notes:read'], 'admin://': ['admin'] } });
  const a = await alice();
  expect((await s.rpc(a, 'subscriptions/listen', { notifications: { resourceSubscriptions: ['notes://1'] } })).status).toBe(200);
  const before = s.seen.length;
  const lacking = await s.rpc(a, 'subscriptions/listen', { notifications: { resourceSubscriptions: ['notes://1', 'admin://x'] } });
  expect(lacking.status).toBe(403);
  expect(lacking.challenge).toMatch(/scope="[^"]*admin/);
  const unmapped = await s.rpc(a, 'subscriptions/listen', { notifications: { resourceSubscriptions: ['file:///etc/passwd'] } });
  expect(unmapped.status).toBe(403);
  expect(unmapped.challenge).not.toMatch(/scope="/);
  expect((await s.rpc(a, 'subscriptions/listen', { notifications: { resourceSubscriptions: [7] } })).status).toBe(400);
  expect(s.seen.length).toBe(before);
});

test('a list answer the policy filters is the token\'s own view: cacheScope "public" goes out as "private", filtered or not', async () => {
  const s = await start({ toolScopes: { report: ['reports:read'], admin: ['admin'] } });
  const some = await s.rpc(await alice(), 'tools/list');
  expect(some.body.result.tools.map((t: { name: string }) => t.name)).toEqual(['report']);
  expect(some.body.result.cacheScope).toBe('private');
  expect(some.body.result.ttlMs).toBe(60_000);
  const all = await s.rpc(await fx.token({ sub: 'root', client_id: 'c', scope: 'reports:read admin' }), 'tools/list');
  expect(all.body.result.tools).toHaveLength(2);
  expect(all.body.result.cacheScope).toBe('private');
});

test('under resourceScopes, resources/read answers and resources/list answers without a cacheScope go out "private"', async () => {
  const s = await start({ resourceScopes: { 'notes://': ['notes:read'], 'admin://': ['admin'] } });
  const a = await alice();
  const read = await s.rpc(a, 'resources/read', { uri: 'notes://1' });
  expect(read.status).toBe(200);
  expect(read.body.result).toEqual({ resultType: 'complete', contents: [{ uri: 'notes://1', text: 'content of notes://1' }], ttlMs: 3_600_000, cacheScope: 'private' });
  const listed = await s.rpc(a, 'resources/list');
  expect(listed.body.result.resources.map((r: { uri: string }) => r.uri)).toEqual(['notes://1']);
  expect(listed.body.result.cacheScope).toBe('private');
});

test('without resourceScopes a read is the same for every token: its cacheScope is left as the server set it', async () => {
  const s = await start({ toolScopes: { '*': [] } });
  expect((await s.rpc(await alice(), 'resources/read', { uri: 'notes://1' })).body.result.cacheScope).toBe('public');
});
