/**
 * `tasks/list` answers keep only the caller's own tasks, and never hand on another identity's task
 * id, not even as `nextCursor` (the SDK's `InMemoryTaskStore` uses the page's last task id as the
 * cursor): when the guard removed entries from a page, the page's `nextCursor` is dropped. So with a
 * store shared by every caller, a listing stops at the first page another identity's tasks were on
 * (the README says to key such a store by the caller for complete listings).
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
const taskStore = new InMemoryTaskStore();
let srv: Listening;

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, toolScopes: { long_job: [] } }));
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const mcp = new McpServer({ name: 'tasks', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore });
    mcp.experimental.tasks.registerToolTask('long_job', { description: 'a long job' }, {
      createTask: async (extra) => ({ task: await extra.taskStore.createTask({ ttl: 60_000 }) }),
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
afterAll(async () => {
  taskStore.cleanup();
  await srv?.close();
});

async function rpc(token: string, body: unknown): Promise<{ status: number; text: string; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, json: text === '' ? undefined : JSON.parse(text) };
}

test("bob's tasks/list never carries an id of alice's tasks, not even as nextCursor; alice's lists her own", async () => {
  const alice = await fx.token({ sub: 'alice', client_id: 'client-a' });
  const bob = await fx.token({ sub: 'bob', client_id: 'client-b' });
  const aliceTasks: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await rpc(alice, { jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'long_job', arguments: {}, task: { ttl: 60_000 } } });
    aliceTasks.push(r.json.result.task.taskId as string);
  }
  const bobTask = (await rpc(bob, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'long_job', arguments: {}, task: { ttl: 60_000 } } })).json.result.task.taskId as string;

  const seen: string[] = [];
  let cursor: string | undefined;
  const leaked: string[] = [];
  for (let page = 0; page < 3; page++) {
    const r = await rpc(bob, { jsonrpc: '2.0', id: 100 + page, method: 'tasks/list', params: cursor === undefined ? {} : { cursor } });
    expect(r.status).toBe(200);
    leaked.push(...aliceTasks.filter((id) => r.text.includes(id)));
    seen.push(...(r.json.result.tasks as { taskId: string }[]).map((t) => t.taskId));
    cursor = r.json.result.nextCursor as string | undefined;
    if (cursor === undefined) break;
  }
  expect(leaked).toEqual([]);
  expect(seen.filter((id) => id !== bobTask)).toEqual([]);
  // Alice's first page holds only her own tasks: listed whole, with the store's cursor.
  const first = await rpc(alice, { jsonrpc: '2.0', id: 200, method: 'tasks/list', params: {} });
  expect((first.json.result.tasks as { taskId: string }[]).map((t) => t.taskId)).toEqual(aliceTasks);
});
