/**
 * Tasks under the dual-era v2 endpoint (`helpers/v2-dual-era.ts`). The v2 SDK has no task runtime;
 * the server answers task-augmented calls by hand: 2025-11-25 `params.task` on a legacy session
 * (`result.task.taskId`), the 2026-07-28 tasks extension (`resultType: "task"`). The guard binds
 * the task to the creating identity whichever era created it, and checks `tasks/*` of both eras.
 */
import { startHarness, rpc2025, rpc2026, open2025, type Harness } from '../helpers/v2-dual-era.js';

let h: Harness;
beforeAll(async () => { ({ h } = await startHarness()); });
afterAll(async () => { await h.close(); });

test('a 2025-11-25 task (params.task, legacy session) is its creator\'s in both eras; another user gets 403 task_not_owned in both, the handler never runs', async () => {
  const alice = await h.token('notes:read', 'alice');
  const bob = await h.token('notes:read', 'bob');
  const aliceSid = await open2025(h, alice);
  const bobSid = await open2025(h, bob);
  const created = await rpc2025(h, alice, aliceSid, 'tools/call', { name: 'start_job', arguments: {}, task: { ttl: 60_000 } });
  expect(created.status).toBe(200);
  const taskId = created.body.result.task.taskId as string;
  expect(typeof taskId).toBe('string');

  const own25 = await rpc2025(h, alice, aliceSid, 'tasks/get', { taskId });
  expect(own25.status).toBe(200);
  expect(own25.body.result?.taskId ?? own25.body.error).toBe(taskId);
  expect((await rpc2026(h, alice, 'tasks/get', { taskId })).status).toBe(200);

  const before = h.ran.length;
  const other25 = await rpc2025(h, bob, bobSid, 'tasks/get', { taskId });
  expect(other25.status).toBe(403);
  expect(other25.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
  expect((await rpc2025(h, bob, bobSid, 'tasks/result', { taskId })).status).toBe(403);
  expect((await rpc2026(h, bob, 'tasks/get', { taskId })).status).toBe(403);
  expect((await rpc2026(h, bob, 'tasks/cancel', { taskId })).status).toBe(403);
  expect(h.ran.slice(before).filter((r) => r.startsWith('tasks/'))).toEqual([]);
});

test('a 2026 task (tasks extension) is its creator\'s on her 2025 session too; another user\'s 2025 session gets 403', async () => {
  const alice = await h.token('notes:read', 'alice');
  const bob = await h.token('notes:read', 'bob');
  const created = await rpc2026(h, alice, 'tools/call', { name: 'start_job', arguments: {} });
  expect(created.body.result.resultType).toBe('task');
  const taskId = created.body.result.taskId as string;
  const aliceSid = await open2025(h, alice);
  const bobSid = await open2025(h, bob);
  expect((await rpc2025(h, alice, aliceSid, 'tasks/get', { taskId })).status).toBe(200);
  const before = h.ran.length;
  expect((await rpc2025(h, bob, bobSid, 'tasks/get', { taskId })).status).toBe(403);
  expect(h.ran.slice(before).filter((r) => r.startsWith('tasks/'))).toEqual([]);
});
