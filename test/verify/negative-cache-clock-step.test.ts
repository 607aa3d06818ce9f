/**
 * README (Opaque tokens, "Cache and the revocation window"): "A clock that steps back (an NTP
 * correction) makes entries stored 'later than now' stale, so no entry outlives its lifetime that
 * way", and `negativeCacheSeconds` is "How long a negative introspection answer is cached (at
 * most 30)". The positive cache checks `now < storedAt`; the negative cache does not, so
 * `lru-cache` counts a negative entry's age from its (now future) insertion time: after a clock
 * step back of an hour, a refused token stays refused, without asking the authorization server,
 * for the whole hour plus negativeCacheSeconds.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';

const T0 = 1_900_000_000_000;
let as: LoopbackAS;
let t: TestApp | undefined;

beforeAll(async () => { as = await startLoopbackAS(); });
afterEach(async () => { await t?.guard.close(); t = undefined; });
afterAll(() => as.close());

test('a negative entry does not outlive negativeCacheSeconds when the clock steps back', async () => {
  const clock = fakeClock(T0);
  t = buildApp(opaqueOptions(as, { clock, clockTolerance: 0, negativeCacheSeconds: 10 }));
  const token = opaqueToken();
  as.introspect = () => ({ body: { active: false } }); // e.g. introspected before the AS replicated it
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(401);
  expect(as.counts.introspection).toBe(1);

  as.introspect = () => ({ body: activeAnswer(as, Math.floor(clock() / 1000)) });
  clock.set(T0 - 3600_000); // NTP corrects the clock back by one hour
  clock.advance(31_000);    // then more than negativeCacheSeconds (even its maximum, 30 s) pass
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(as.counts.introspection).toBe(2); // actual: 1 (answered from the stale negative entry)
  expect(res.status).toBe(200);            // actual: 401 for the next hour
});
