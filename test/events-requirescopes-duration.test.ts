/**
 * README (Decision events): "`durationMs`: time spent in the guard for this request", and the
 * Prometheus recipe observes it as "Time spent in the guard per request". The `deny` of a
 * `requireScopes()` reuses the trace `protect()` started, so its `durationMs` runs from protect()'s
 * start to requireScopes(): it includes whatever ran in between (a body parser reading an upload,
 * the app's own middleware), here a 40 ms middleware, although the guard spent microseconds.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth, requireScopes, type GuardEvent } from '../lib/index.js';
import { fakeClock } from './helpers/clock.js';
import { loopbackJwtSuite } from './helpers/fixture.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('the requireScopes() deny counts the guard\'s time, not the app middleware between protect() and it', async () => {
  const clock = fakeClock(1_900_000_000_000);
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const events: GuardEvent[] = [];
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, clock, onEvent: (e) => { events.push(e); } }));
  const app = express();
  const slowAppMiddleware: express.RequestHandler = (_req, _res, next) => {
    const until = performance.now() + 200; // the application's own work (CPU, no timer)
    while (performance.now() < until) { /* busy */ }
    next();
  };
  app.post('/admin', guard.protect(), slowAppMiddleware, requireScopes('admin'), (_req, res) => { res.json({ ok: true }); });
  const token = await sign(fx.key, { scope: 'mcp' });
  await request(app).post('/admin').set('Authorization', `Bearer ${token}`); // warm: keys, cache
  events.length = 0;
  expect((await request(app).post('/admin').set('Authorization', `Bearer ${token}`)).status).toBe(403);
  const [allow, deny] = events as [Extract<GuardEvent, { type: 'allow' }>, Extract<GuardEvent, { type: 'deny' }>];
  expect(allow).toMatchObject({ type: 'allow', cached: true });
  expect(deny).toMatchObject({ type: 'deny', reason: 'insufficient_scope' });
  // Bounds well under the application's 200 ms (a loaded CI machine may pause a cached request for tens of ms).
  expect(allow.durationMs).toBeLessThan(100);
  expect(deny.durationMs).toBeLessThan(100); // the bug this guards against: ≥ 200 (the app middleware's time)
});
