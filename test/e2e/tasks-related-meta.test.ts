/**
 * A task is its creator's wherever a message names it: the MCP SDK reads
 * `params._meta["io.modelcontextprotocol/related-task"].taskId` of any incoming request and, with no
 * session (stateless, a shared task store), acts on that task without a lookup (`extra.taskId`;
 * `extra.sendRequest()` moves it to `input_required`; with a task message queue, the request's
 * messages are queued into its `tasks/result` stream). Under `toolScopes`, a message naming another
 * identity's task there is refused (403 `task_not_owned`), and the task is untouched.
 */
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const RELATED = 'io.modelcontextprotocol/related-task';
const fx = loopbackJwtSuite(RESOURCE);
const taskStore = new InMemoryTaskStore();
let srv: Listening;
let transportCalls = 0;

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, toolScopes: { long_job: ['jobs:run'], '*': [] } }));
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    transportCalls++;
    const mcp = new McpServer({ name: 'tasks', version: '1.0.0' }, { capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, taskStore });
    // A long task: created 'working', finished later by background work (not in this test).
    mcp.experimental.tasks.registerToolTask('long_job', { description: 'jobs:run' }, {
      createTask: async (extra) => ({ task: await extra.taskStore.createTask({ ttl: 60_000 }) }),
      getTask: async (extra) => (await extra.taskStore.getTask(extra.taskId))!,
      getTaskResult: async (extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    });
    // An ordinary tool that checks the client is alive before answering (any tool that elicits or samples does the same).
    mcp.registerTool('check_in', { description: 'anyone' }, async (extra) => {
      try { await extra.sendRequest({ method: 'ping' }, EmptyResultSchema, { timeout: 1 }); } catch { /* no client to answer in stateless mode */ }
      return { content: [{ type: 'text', text: 'checked in' }] };
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

async function rpc(token: string, body: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fetch(`${srv.url}/mcp`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream', 'Content-Type': 'application/json', 'MCP-Protocol-Version': '2025-11-25' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text === '' ? undefined : JSON.parse(text) };
}

test("bob cannot act on alice's task by naming it in _meta related-task: 403 task_not_owned, and alice's task is untouched", async () => {
  const alice = await fx.token({ sub: 'alice', client_id: 'client-a', scope: 'jobs:run' });
  const bob = await fx.token({ sub: 'bob', client_id: 'client-b' });
  const created = await rpc(alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'long_job', arguments: {}, task: { ttl: 60_000 } } });
  expect(created.status).toBe(200);
  const taskId = created.json.result.task.taskId as string;
  expect((await rpc(alice, { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId } })).json.result.status).toBe('working');

  const before = transportCalls;
  const attack = await rpc(bob, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'check_in', arguments: {}, _meta: { [RELATED]: { taskId } } } });
  // What tasks/get|result|cancel of alice's task get: the request names a task bob's identity did not create.
  const aliceAfter = (await rpc(alice, { jsonrpc: '2.0', id: 4, method: 'tasks/get', params: { taskId } })).json.result.status;
  expect({ status: attack.status, aliceTask: aliceAfter }).toEqual({ status: 403, aliceTask: 'working' }); // today: 200, alice's task 'input_required'
  expect(attack.json.error.data.code).toBe('FORBIDDEN');
  expect(transportCalls).toBe(before + 1); // only alice's tasks/get ran
});
