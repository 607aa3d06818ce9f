/**
 * A discovered document marked stale (here: one JWKS answer of HTTP 500) keeps serving at once
 * while it is read again in the background: in `auto` mode a JWS-shaped token (`#publishesKeys`)
 * and an opaque token (the discovered introspection endpoint) do not wait for the re-read. When the
 * metadata endpoint hangs (a dead host, a firewall dropping packets), they are answered with the
 * keys and endpoint at hand (README: "an outage changes nothing for what the old document still
 * serves"; "the request is answered with the keys at hand, never waiting").
 *
 * Real HTTP to a loopback authorization server, injected clock. The re-read hangs for
 * httpTimeoutSeconds (60 s, beyond the test's own timeout): a request that waited for it would
 * fail the test; each one is answered while the re-read is still under way.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';
import type { GuardEvent } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

let as: LoopbackAS;
let key: TestKey;
const open: TestApp[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
});
beforeEach(() => {
  as.keys = [key.publicJwk];
  as.metadata = {};
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.resetCounts();
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

/** Resolves once `cond()` holds (checked once per loop turn; no timers). */
function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const tick = () => (cond() ? resolve() : setImmediate(tick));
    tick();
  });
}

async function staleGuard(): Promise<{ t: TestApp; clock: ReturnType<typeof fakeClock>; sign: ReturnType<typeof tokenBuilder> }> {
  const clock = fakeClock(1_800_000_000_000);
  const events: GuardEvent[] = [];
  const t = buildApp({
    resource: RESOURCE, issuer: as.issuer, clock, introspection: { ...RS_CLIENT }, // auto, all discovered
    jwksCacheMaxAgeSeconds: 60, httpTimeoutSeconds: 60, onEvent: (e) => events.push(e),
  });
  open.push(t);
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING)).status).toBe(200);
  // One JWKS blip (HTTP 500 from a load balancer) during a background refresh marks the metadata stale.
  as.faults.jwks = '500';
  clock.advance(61_000);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING)).status).toBe(200);
  await until(() => events.some((e) => e.type === 'keys_refresh_failed'));
  // Now the metadata endpoint stops answering (host down, packets dropped).
  as.faults.discovery = 'hang';
  return { t, clock, sign };
}

test('auto: a valid JWT is answered with the keys at hand, not after the hanging metadata re-read', async () => {
  const { t, sign } = await staleGuard();
  const before = as.counts.discovery;
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(res.status).toBe(200);
  expect(as.counts.discovery).toBeGreaterThan(before); // the re-read started (and hangs)
});

test('auto: an opaque token is introspected at the known endpoint, not after the hanging metadata re-read', async () => {
  const { t } = await staleGuard();
  const before = as.counts.discovery;
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(200);
  expect(as.counts.discovery).toBeGreaterThan(before); // the re-read started (and hangs)
});
