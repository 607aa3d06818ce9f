/**
 * `introspection.maxConcurrent`: at most that many introspection calls are under way at once; a
 * token that would start one more gets 503 at once (`Retry-After: 1`, an `introspection_failed`
 * event with reason `too_many_calls`), so a flood of distinct made-up tokens does not become one
 * call each at the authorization server. The refusal is not cached: once calls finish, the same
 * token is introspected. The authorization server holds its answers until the test releases them.
 */
import express from 'express';
import request from 'supertest';
import { fromEnv, type GuardEvent } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { listen } from '../helpers/http.js';
import { turns } from '../helpers/parking-jwks.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';

let as: LoopbackAS;
const apps: TestApp[] = [];
beforeAll(async () => { as = await startLoopbackAS(); });
afterAll(async () => {
  for (const t of apps) await t.guard.close();
  await as.close();
});

/** Hold every introspection answer until `release()`; `started` counts the calls the server saw. */
function holdAnswers(): { started: () => number; release: () => void; reached: (n: number) => Promise<void> } {
  let count = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const waiters: { n: number; resolve: () => void }[] = [];
  as.introspect = async () => {
    count++;
    for (const w of waiters) if (count >= w.n) w.resolve();
    await gate;
    return { body: activeAnswer(as, Math.floor(Date.now() / 1000)) };
  };
  return {
    started: () => count,
    release: open,
    reached: (n) => (count >= n ? Promise.resolve() : new Promise((resolve) => { waiters.push({ n, resolve }); })),
  };
}

test('one call more than maxConcurrent: 503 with Retry-After 1 at once, the handler not run, the server not asked', async () => {
  const events: GuardEvent[] = [];
  const t = buildApp(opaqueOptions(as, { introspection: { maxConcurrent: 3 } as never, onEvent: (e) => events.push(e) }));
  apps.push(t);
  const held = holdAnswers();
  const post = (token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING).then((r) => r);
  const first = [opaqueToken(), opaqueToken(), opaqueToken()].map(post);
  await held.reached(3);
  const refused = await post(opaqueToken());
  expect(refused.status).toBe(503);
  expect(refused.headers['retry-after']).toBe('1');
  expect(refused.body.error.data.code).toBe('AUTH_UNAVAILABLE');
  expect(held.started()).toBe(3);
  expect(events.filter((e) => e.type === 'introspection_failed')).toEqual([{ type: 'introspection_failed', url: as.introspectionUrl, reason: 'too_many_calls' }]);
  held.release();
  expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200, 200]);
  expect(t.calls()).toBe(3);
});

test('the refusal is not remembered: the same token, once calls have finished, is introspected and passes', async () => {
  const t = buildApp(opaqueOptions(as, { introspection: { maxConcurrent: 1 } as never }));
  apps.push(t);
  const held = holdAnswers();
  const token = opaqueToken();
  const busy = request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING).then((r) => r);
  await held.reached(1);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(503);
  held.release();
  expect((await busy).status).toBe(200);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  expect(held.started()).toBe(2);
});

test('concurrent uses of one token share one call and count once', async () => {
  const t = buildApp(opaqueOptions(as, { introspection: { maxConcurrent: 1 } as never }));
  apps.push(t);
  // Count the requests that reached the guard: the answer is held until all five are under way.
  let arrived = 0;
  const app = express();
  app.use(express.json(), (_req, _res, next) => { arrived++; next(); });
  app.post('/mcp', t.guard.protect(), (_req, res) => { res.json({ ok: true }); });
  const srv = await listen(app);
  const held = holdAnswers();
  try {
    const token = opaqueToken();
    const all = Array.from({ length: 5 }, () => request(srv.url).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING).then((r) => r));
    await held.reached(1);
    for (let i = 0; i < 200 && arrived < 5; i++) await turns(1);
    expect(arrived).toBe(5);
    held.release();
    expect((await Promise.all(all)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(held.started()).toBe(1);
  } finally {
    held.release();
    await srv.close();
  }
});

test('maxConcurrent is a whole number from 1, from options and MCP_AUTH_INTROSPECTION_MAX_CONCURRENT; 128 by default', () => {
  for (const bad of [0, 1.5, -1, '8', Infinity]) {
    expect(() => buildApp(opaqueOptions(as, { introspection: { maxConcurrent: bad } as never }))).toThrow(/introspection\.maxConcurrent/);
  }
  const t = buildApp(opaqueOptions(as));
  apps.push(t);
  expect(t.guard.config.introspection?.maxConcurrent).toBe(128);
  expect(fromEnv({ MCP_AUTH_INTROSPECTION_MAX_CONCURRENT: '16' }).introspection).toEqual({ maxConcurrent: 16 });
});
