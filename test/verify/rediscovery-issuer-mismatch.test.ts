/**
 * A re-read of a stale document that names another issuer is refused, and the old document keeps
 * serving (the safe choice: tokens are still checked against the configured issuer). Once the old
 * keys are gone, the guard names the cause, as a cold start against the same server does
 * ("The authorization server metadata names a different issuer than the configured one",
 * `discovery_failed`), instead of blaming the keys (`jwks_unavailable`).
 *
 * Real HTTP to a loopback authorization server, injected clock.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const MISMATCH = 'The authorization server metadata names a different issuer than the configured one';

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

test('control: a cold guard facing metadata that names another issuer says so', async () => {
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock: fakeClock(1_800_000_000_000) });
  open.push(t);
  as.metadata = { issuer: `${as.issuer}/other` };
  as.faults.jwks = '404';
  await expect(t.guard.ready()).rejects.toMatchObject({ description: MISMATCH });
});

test('a warm guard whose re-read names another issuer tells the same cause once it cannot serve', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock, jwksCacheMaxAgeSeconds: 60, jwksMaxStaleSeconds: 60 });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING)).status).toBe(200);

  // The same authorization server state as in the control: another issuer, the old JWKS gone.
  as.metadata = { issuer: `${as.issuer}/other` };
  as.faults.jwks = '404';
  for (let i = 0; i < 5; i++) {
    clock.advance(31_000);
    await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  }
  expect(as.counts.discovery).toBeGreaterThanOrEqual(2); // the metadata was read again (and refused)
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(res.status).toBe(503);
  const err = await t.guard.ready().then(() => undefined, (e: unknown) => e as { reason?: string; description?: string });
  expect(err).toMatchObject({ reason: 'discovery_failed', description: MISMATCH }); // was: jwks_unavailable, "The authorization server keys are unavailable"
});
