/**
 * MCP tasks (2025-11-25) under a tool policy, with the real SDK (stateless, one `InMemoryTaskStore`
 * shared by every request, as a deployment shares its store: `helpers/task-server.ts`). A task
 * belongs to the identity (issuer, subject, client) whose task-augmented `tools/call` created it,
 * learnt from the answer, JSON or SSE, also with `filterLists: false`:
 * - another identity gets 403 `task_not_owned` for `tasks/get`, `tasks/result`, `tasks/cancel`, and
 *   for any message naming the task in `params._meta["io.modelcontextprotocol/related-task"]` (the
 *   SDK acts on the task named there); the transport never runs and the task is untouched;
 * - `tasks/list` answers keep the caller's own tasks, and never hand on another identity's task id,
 *   not even as `nextCursor` (the SDK's cursor is the page's last task id: a page the guard removed
 *   entries from loses it);
 * - a task id the guard never saw created is nobody's (403); one without a string id is 400;
 * - one identity creating tasks by the dozen pushes out its own bindings, not another's (a tenth
 *   of `cacheMaxEntries` per principal).
 */
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { startTaskServer, type TaskServer } from '../helpers/task-server.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const RELATED = 'io.modelcontextprotocol/related-task';
const fx = loopbackJwtSuite(RESOURCE);
const servers: TaskServer[] = [];
afterAll(async () => { for (const s of servers) await s.close(); });

async function taskServer(guard: Parameters<typeof startTaskServer>[2], opts?: { json?: boolean }): Promise<TaskServer> {
  const s = await startTaskServer(fx, RESOURCE, guard, opts);
  servers.push(s);
  return s;
}

const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, task: { ttl: 60_000 } } });
const alice = () => fx.token({ sub: 'alice', client_id: 'client-a', scope: 'reports:read jobs:run' });
const bob = () => fx.token({ sub: 'bob', client_id: 'client-b', scope: 'reports:read jobs:run' });

describe.each([
  ['JSON answers', { json: true }, {}],
  ['SSE answers', { json: false }, {}],
  ['filterLists: false', { json: true }, { filterLists: false }],
])('tasks are their creator\'s (%s)', (_label, opts, extra) => {
  test("another identity can neither read, get, cancel nor list alice's task; alice can", async () => {
    const t = await taskServer({ toolScopes: { report: ['reports:read'], '*': [] }, ...extra }, opts);
    const a = await alice();
    const created = await t.rpc(a, call(1, 'report'));
    expect(created.status).toBe(200);
    const taskId = created.messages[0]!.result.task.taskId as string;
    expect(typeof taskId).toBe('string');

    for (const other of [await bob(), await fx.token({ sub: 'alice', client_id: 'client-b', scope: 'reports:read' })]) {
      const before = t.calls();
      for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
        const r = await t.rpc(other, { jsonrpc: '2.0', id: 2, method, params: { taskId } });
        expect({ method, status: r.status }).toEqual({ method, status: 403 });
        expect(r.challenge).toMatch(/^Bearer error="insufficient_scope"/);
        expect(r.challenge).not.toMatch(/scope="/);
        expect(r.messages[0]!.error.data.code).toBe('FORBIDDEN');
      }
      expect(t.calls()).toBe(before);
      const listed = await t.rpc(other, { jsonrpc: '2.0', id: 3, method: 'tasks/list' });
      expect(listed.status).toBe(200);
      expect(listed.text).not.toContain(taskId);
    }

    const result = await t.rpc(a, { jsonrpc: '2.0', id: 4, method: 'tasks/result', params: { taskId } });
    expect(result.status).toBe(200);
    expect(result.text).toContain('report for alice');
    const listed = await t.rpc(a, { jsonrpc: '2.0', id: 5, method: 'tasks/list' });
    expect(listed.messages[0]!.result.tasks.map((x: { taskId: string }) => x.taskId)).toEqual([taskId]);
  });
});

test("a task id the guard never saw created is nobody's: 403 (fail closed); a tasks/get without a string taskId: 400", async () => {
  const t = await taskServer({ toolScopes: { report: ['reports:read'], '*': [] } });
  const a = await alice();
  expect((await t.rpc(a, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { taskId: 'made-up' } })).status).toBe(403);
  expect((await t.rpc(a, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: {} })).status).toBe(400);
  expect(t.calls()).toBe(0);
});

test("bob cannot act on alice's task by naming it in _meta related-task: 403 task_not_owned, and alice's task is untouched", async () => {
  const t = await taskServer({ toolScopes: { long_job: ['jobs:run'], '*': [] } });
  const a = await alice();
  const created = await t.rpc(a, call(1, 'long_job'));
  expect(created.status).toBe(200);
  const taskId = created.messages[0]!.result.task.taskId as string;
  const status = async () => (await t.rpc(a, { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId } })).messages[0]!.result.status as string;
  expect(await status()).toBe('working');
  const before = t.calls();
  const attack = await t.rpc(await bob(), { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'check_in', arguments: {}, _meta: { [RELATED]: { taskId } } } });
  expect(attack.status).toBe(403);
  expect(attack.messages[0]!.error.data.code).toBe('FORBIDDEN');
  expect(t.calls()).toBe(before);
  expect(await status()).toBe('working');
});

test("bob's tasks/list never carries an id of alice's tasks, not even as nextCursor; alice lists her own", async () => {
  const t = await taskServer({ toolScopes: { long_job: [] } });
  const [a, b] = [await alice(), await bob()];
  const aliceTasks: string[] = [];
  for (let i = 0; i < 10; i++) aliceTasks.push((await t.rpc(a, call(i + 1, 'long_job'))).messages[0]!.result.task.taskId as string);
  const bobTask = (await t.rpc(b, call(1, 'long_job'))).messages[0]!.result.task.taskId as string;
  const seen: string[] = [];
  const leaked: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 3; page++) {
    const r = await t.rpc(b, { jsonrpc: '2.0', id: 100 + page, method: 'tasks/list', params: cursor === undefined ? {} : { cursor } });
    expect(r.status).toBe(200);
    leaked.push(...aliceTasks.filter((id) => r.text.includes(id)));
    seen.push(...(r.messages[0]!.result.tasks as { taskId: string }[]).map((x) => x.taskId));
    cursor = r.messages[0]!.result.nextCursor as string | undefined;
    if (cursor === undefined) break;
  }
  expect(leaked).toEqual([]);
  expect(seen.filter((id) => id !== bobTask)).toEqual([]);
  // Alice's first page holds only her own tasks: listed whole.
  const first = await t.rpc(a, { jsonrpc: '2.0', id: 200, method: 'tasks/list', params: {} });
  expect((first.messages[0]!.result.tasks as { taskId: string }[]).map((x) => x.taskId)).toEqual(aliceTasks);
});

test("another identity creating tasks by the dozen does not take away alice's own task", async () => {
  const CAP = 8;
  const t = await taskServer({ cacheMaxEntries: CAP, toolScopes: { report: [], '*': [] } });
  const [a, b] = [await alice(), await bob()];
  const taskId = (await t.rpc(a, call(1, 'report'))).messages[0]!.result.task.taskId as string;
  for (let i = 0; i < CAP; i++) expect((await t.rpc(b, call(10 + i, 'report'))).status).toBe(200);
  const result = await t.rpc(a, { jsonrpc: '2.0', id: 3, method: 'tasks/result', params: { taskId } });
  expect(result.status).toBe(200);
  expect(result.text).toContain('report for alice');
});

test("a user's long task, polled all along, stays hers while she runs short ones (the quota goes by use, not creation)", async () => {
  const t = await taskServer({ cacheMaxEntries: 20, toolScopes: { long_job: [], report: [] } }); // 2 per user
  const a = await alice();
  const longId = (await t.rpc(a, call(1, 'long_job'))).messages[0]!.result.task.taskId as string;
  const polls: number[] = [];
  for (let i = 0; i < 4; i++) {
    const shortId = (await t.rpc(a, call(2, 'report'))).messages[0]!.result.task.taskId as string;
    expect((await t.rpc(a, { jsonrpc: '2.0', id: 3, method: 'tasks/result', params: { taskId: shortId } })).status).toBe(200);
    polls.push((await t.rpc(a, { jsonrpc: '2.0', id: 4, method: 'tasks/get', params: { taskId: longId } })).status);
  }
  expect(polls).toEqual([200, 200, 200, 200]);
});
