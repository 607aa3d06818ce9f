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
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const T0 = 1_800_000_000_000;
const STEP_BACK_MS = 2 * 3600_000;
const fx = loopbackJwtSuite(RESOURCE);

beforeEach(() => {
  fx.as.keys = [fx.key.publicJwk];
  fx.as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  fx.as.resetCounts();
});

async function scenario(over: Record<string, unknown>, fail: () => void, heal: () => void): Promise<{ t: TestApp; res: request.Response }> {
  const clock = fakeClock(T0);
  const t = buildApp({ resource: RESOURCE, issuer: fx.as.issuer, clock, ...over });
  fx.track(t);
  const sign = tokenBuilder({ issuer: fx.as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  fail();
  const first = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(fx.key)}`).send(PING);
  expect(first.status).toBe(503);
  heal();
  clock.set(T0 - STEP_BACK_MS); // the clock is corrected backwards by two hours
  clock.advance(31_000); // then more than the 30 s cooldown passes
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(fx.key)}`).send(PING);
  return { t, res };
}

test('JWKS: after a failed fetch and a backwards clock step, a fetch is made again once the cooldown has passed', async () => {
  const { t, res } = await scenario({ jwksUri: fx.as.jwksUri }, () => { fx.as.faults.jwks = '500'; }, () => { fx.as.faults.jwks = 'ok'; });
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
  expect(fx.as.counts.jwks).toBe(2);
});

test('discovery: after a failed discovery and a backwards clock step, discovery is retried once the cooldown has passed', async () => {
  const { t, res } = await scenario({}, () => { fx.as.faults.discovery = '500'; }, () => { fx.as.faults.discovery = 'ok'; });
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(1);
  expect(fx.as.counts.jwks).toBe(1);
});

test('cache: a backwards clock step does not stretch a positive entry past cacheMaxAgeSeconds (the revocation window)', async () => {
  const { mcpAuth } = await import('../../lib/index.js');
  const { opaqueOptions, opaqueToken, activeAnswer } = await import('../helpers/opaque.js');
  const clock = fakeClock(T0);
  const g = mcpAuth(opaqueOptions(fx.as, { clock, cacheMaxAgeSeconds: 300 }));
  fx.track(g);
  const token = opaqueToken();
  let revoked = false;
  fx.as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(fx.as, clock.seconds(), { exp: undefined }) });
  await expect(g.verify(token)).resolves.toMatchObject({ clientId: 'client-1' });
  expect(fx.as.counts.introspection).toBe(1);
  revoked = true; // revoked at the authorization server
  clock.set(T0 - STEP_BACK_MS); // clock corrected backwards
  clock.advance(301_000); // more than cacheMaxAgeSeconds passes
  const err = await g.verify(token).then(() => 'still accepted', (e: unknown) => e);
  expect(err).toMatchObject({ code: 'UNAUTHORIZED', reason: 'token_inactive' });
  expect(fx.as.counts.introspection).toBe(2);
});
