/**
 * MCP tasks (2025-11-25) under a tool policy, with the real SDK (stateless, one `InMemoryTaskStore`
 * shared by every request, as a deployment shares its store): a task belongs to the identity
 * (issuer, subject, client) whose task-augmented `tools/call` created it, learnt from the answer.
 * Another identity gets 403 `task_not_owned` for `tasks/get`, `tasks/result` and `tasks/cancel`
 * (the transport never runs), and does not see the task in `tasks/list`; so a token that may not
 * call a tool cannot read that tool's output through someone else's task. A task id the guard
 * never saw created is nobody's. JSON and SSE answers alike; also with `filterLists: false`.
 */
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

interface TaskApp { app: express.Express; transportCalls: () => number; close: () => void }

function taskApp(opts: { json: boolean; filterLists?: boolean }): TaskApp {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, toolScopes: { secret_report: ['reports:read'], '*': [] }, ...(opts.filterLists === undefined ? {} : { filterLists: opts.filterLists }) }));
  const taskStore = new InMemoryTaskStore();
  let calls = 0;
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    calls++;
    const mcp = new McpServer({ name: 'tasks', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore });
    mcp.experimental.tasks.registerToolTask('secret_report', { description: 'reports:read only' }, {
      createTask: async (extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000 });
        await extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `report for ${String(extra.authInfo?.extra?.sub)}` }] });
        return { task };
      },
      getTask: async (extra) => (await extra.taskStore.getTask(extra.taskId))!,
      getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: opts.json });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  return { app, transportCalls: () => calls, close: () => taskStore.cleanup() };
}

/** POST one JSON-RPC message; the answers (JSON or SSE). */
async function rpc(t: TaskApp, token: string, body: unknown) {
  const res = await request(t.app).post('/mcp').set('Accept', 'application/json, text/event-stream').set('Authorization', `Bearer ${token}`)
    .set('MCP-Protocol-Version', '2025-11-25').set('Content-Type', 'application/json').buffer(true).parse((r, cb) => {
      let text = '';
      r.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      r.on('end', () => cb(null, text));
    }).send(JSON.stringify(body));
  const text = res.body as string;
  const messages = String(res.headers['content-type']).startsWith('text/event-stream')
    ? text.split('\n\n').map((b) => b.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('')).filter((d) => d !== '').map((d) => JSON.parse(d) as Record<string, any>)
    : text === '' ? [] : [JSON.parse(text) as Record<string, any>];
  return { status: res.status, challenge: res.headers['www-authenticate'] as string | undefined, messages, text };
}

const apps: TaskApp[] = [];
afterAll(() => { for (const a of apps) a.close(); });

describe.each([
  ['JSON answers', { json: true }],
  ['SSE answers', { json: false }],
  ['filterLists: false', { json: true, filterLists: false }],
])('tasks are their creator\'s (%s)', (_label, opts) => {
  test("another identity can neither read, get, cancel nor list alice's task; alice can", async () => {
    const t = taskApp(opts);
    apps.push(t);
    const alice = await fx.token({ sub: 'alice', client_id: 'client-a', scope: 'reports:read' });
    const created = await rpc(t, alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'secret_report', arguments: {}, task: { ttl: 60_000 } } });
    expect(created.status).toBe(200);
    const taskId = created.messages[0]!.result.task.taskId as string;
    expect(typeof taskId).toBe('string');

    for (const other of [await fx.token({ sub: 'bob', client_id: 'client-b', scope: 'reports:read' }), await fx.token({ sub: 'alice', client_id: 'client-b', scope: 'reports:read' })]) {
      const before = t.transportCalls();
      for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
        const r = await rpc(t, other, { jsonrpc: '2.0', id: 2, method, params: { taskId } });
        expect({ method, status: r.status }).toEqual({ method, status: 403 });
        expect(r.challenge).toMatch(/^Bearer error="insufficient_scope"/);
        expect(r.challenge).not.toMatch(/scope="/);
        expect(r.messages[0]!.error.data.code).toBe('FORBIDDEN');
      }
      expect(t.transportCalls()).toBe(before);
      const listed = await rpc(t, other, { jsonrpc: '2.0', id: 3, method: 'tasks/list' });
      expect(listed.status).toBe(200);
      expect(listed.text).not.toContain(taskId);
    }

    const result = await rpc(t, alice, { jsonrpc: '2.0', id: 4, method: 'tasks/result', params: { taskId } });
    expect(result.status).toBe(200);
    expect(result.text).toContain('report for alice');
    const listed = await rpc(t, alice, { jsonrpc: '2.0', id: 5, method: 'tasks/list' });
    expect(listed.messages[0]!.result.tasks.map((x: { taskId: string }) => x.taskId)).toEqual([taskId]);
  });
});

test('a task id the guard never saw created is nobody\'s: 403 (fail closed); a tasks/get without a string taskId: 400', async () => {
  const t = taskApp({ json: true });
  apps.push(t);
  const alice = await fx.token({ sub: 'alice', client_id: 'client-a', scope: 'reports:read' });
  expect((await rpc(t, alice, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { taskId: 'made-up' } })).status).toBe(403);
  expect((await rpc(t, alice, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: {} })).status).toBe(400);
  expect(t.transportCalls()).toBe(0);
});
