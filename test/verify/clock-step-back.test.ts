/**
 * A clock that steps backwards (an NTP correction; here the injected one). The JWKS and discovery
 * cooldowns compared `now - lastAttemptAt` with the cooldown: negative until the clock caught up,
 * so after a failed fetch the guard fetched nothing and answered 503 for the whole size of the
 * step, long after the authorization server recovered. And `lru-cache` counted a positive entry's
 * age from its (now future) insertion time, keeping it past `cacheMaxAgeSeconds`, the revocation
 * window. A step back now ends the cooldown, and an entry stored "later than now" is stale.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const T0 = 1_800_000_000_000;
const STEP_BACK_MS = 2 * 3600_000;
let as: LoopbackAS;
let key: TestKey;
const open: TestApp[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
});
beforeEach(() => {
  as.keys = [key.publicJwk];
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.resetCounts();
});
afterAll(async () => {
  await Promise.all(open.map((t) => t.guard.close()));
  await as.close();
});

async function scenario(over: Record<string, unknown>, fail: () => void, heal: () => void): Promise<{ t: TestApp; res: request.Response }> {
  const clock = fakeClock(T0);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock, ...over });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  fail();
  const first = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(first.status).toBe(503);
  heal();
  clock.set(T0 - STEP_BACK_MS); // the clock is corrected backwards by two hours
  clock.advance(31_000); // then more than the 30 s cooldown passes
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  return { t, res };
}

test('JWKS: after a failed fetch and a backwards clock step, a fetch is made again once the cooldown has passed', async () => {
  const { t, res } = await scenario({ jwksUri: as.jwksUri }, () => { as.faults.jwks = '500'; }, () => { as.faults.jwks = 'ok'; });
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
  expect(as.counts.jwks).toBe(2);
});

test('discovery: after a failed discovery and a backwards clock step, discovery is retried once the cooldown has passed', async () => {
  const { t, res } = await scenario({}, () => { as.faults.discovery = '500'; }, () => { as.faults.discovery = 'ok'; });
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
  expect(as.counts.jwks).toBe(1);
});

test('cache: a backwards clock step does not stretch a positive entry past cacheMaxAgeSeconds (the revocation window)', async () => {
  const { mcpAuth } = await import('../../lib/index.js');
  const { opaqueOptions, opaqueToken, activeAnswer } = await import('../helpers/opaque.js');
  const clock = fakeClock(T0);
  const g = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 300 }));
  open.push({ guard: g } as TestApp);
  const token = opaqueToken();
  let revoked = false;
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds(), { exp: undefined }) });
  await expect(g.verify(token)).resolves.toMatchObject({ clientId: 'client-1' });
  expect(as.counts.introspection).toBe(1);
  revoked = true; // revoked at the authorization server
  clock.set(T0 - STEP_BACK_MS); // clock corrected backwards
  clock.advance(301_000); // more than cacheMaxAgeSeconds passes
  const err = await g.verify(token).then(() => 'still accepted', (e: unknown) => e);
  expect(err).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token_inactive' });
  expect(as.counts.introspection).toBe(2);
});
