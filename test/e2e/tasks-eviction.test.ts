/**
 * One identity cannot take away another's task: task bindings are bounded by `cacheMaxEntries`,
 * and each identity by a tenth of that (its own oldest first), so a token that creates tasks by
 * the dozen pushes out its own bindings, and Alice's task stays hers (its result too).
 */
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const CAP = 8;
let srv: Listening;
const taskStore = new InMemoryTaskStore();

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, cacheMaxEntries: CAP, toolScopes: { report: [], '*': [] } }));
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const mcp = new McpServer({ name: 'tasks', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore });
    mcp.experimental.tasks.registerToolTask('report', { description: 'a task' }, {
      createTask: async (extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000 });
        await extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `report for ${String(extra.authInfo?.extra?.sub)}` }] });
        return { task };
      },
      getTask: async (extra) => (await extra.taskStore.getTask(extra.taskId))!,
      getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  srv = await listen(app);
});
afterAll(async () => { taskStore.cleanup(); await srv.close(); });

async function rpc(token: string, body: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

test("another identity creating tasks does not take away alice's own task", async () => {
  const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
  const bob = await fx.token({ sub: 'bob', client_id: 'client-b' });
  const created = await rpc(alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'report', arguments: {}, task: { ttl: 60_000 } } });
  expect(created.status).toBe(200);
  const taskId = created.json.result.task.taskId as string;
  expect((await rpc(alice, { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId } })).status).toBe(200);

  for (let i = 0; i < CAP; i++) {
    const r = await rpc(bob, { jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name: 'report', arguments: {}, task: { ttl: 60_000 } } });
    expect(r.status).toBe(200);
  }

  const result = await rpc(alice, { jsonrpc: '2.0', id: 3, method: 'tasks/result', params: { taskId } });
  expect(result.status).toBe(200); // fails: 403 task_not_owned (alice's binding was evicted by bob's tasks)
  expect(JSON.stringify(result.json)).toContain('report for alice');
});
