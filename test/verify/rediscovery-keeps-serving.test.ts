/**
 * A discovered document marked for a re-read (rediscovery.test.ts) keeps serving whoever still
 * relies on it until a re-read succeeds:
 *
 * - `auto`: a JWKS answering an HTTP error (an AS outage behind a load balancer) marks the
 *   metadata stale; JWTs still need it (`#publishesKeys`), and a failed re-read changes nothing:
 *   the last good keys keep serving (README: "the last good keys keep serving").
 * - `auto`: a JWKS failure does not take the introspection path (same document) down with it.
 * - a configured `jwksUri` failing never makes the guard re-read the metadata.
 * - `auto`: opaque (junk) tokens against a server whose metadata has no introspection_endpoint
 *   are 500 each, make at most one re-read per cooldown, and never turn valid JWTs into 500s.
 *
 * Real HTTP to a loopback authorization server, injected clock.
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';

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
  as.introspect = () => ({ body: { active: false } });
  as.resetCounts();
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

test('auto, whole AS answering 503 (JWKS and metadata): the last good keys keep serving within jwksMaxStaleSeconds', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({
    resource: RESOURCE, issuer: as.issuer, clock, introspection: { ...RS_CLIENT }, // tokenFormat 'auto', all discovered
    jwksCacheMaxAgeSeconds: 60, jwksMaxStaleSeconds: 3600,
  });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const post = async () => request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect((await post()).status).toBe(200);

  // The authorization server goes down behind its load balancer: every path answers an HTTP error.
  as.faults = { discovery: '500', jwks: '500', introspection: '500' };
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    clock.advance(61_000); // past max age: served stale, refreshed in the background
    statuses.push((await post()).status);
  }
  // jwt mode serves these; auto mode: [200, 503, 503, 503] (the stale keys are never reached).
  expect(statuses).toEqual([200, 200, 200, 200]);
});

test('auto: a JWKS outage does not take introspection of opaque tokens down with it', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock, introspection: { ...RS_CLIENT } });
  open.push(t);
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });

  as.faults.jwks = '500';
  const jwt = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(jwt.status).toBe(503); // right: the keys cannot be had

  // The introspection endpoint is healthy and was discovered a moment ago.
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(200); // actual: 503 discovery_failed "The authorization server metadata is unavailable"
  expect(as.counts.introspection).toBe(1);
});

test('auto, configured jwksUri: a JWKS failure does not make the guard forget (and re-read) the metadata introspection uses', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock, introspection: { ...RS_CLIENT } });
  open.push(t);
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });

  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
  as.faults.jwks = '500';
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING)).status).toBe(503);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(200); // actual: 503 (the configured jwksUri's failure dropped the discovered document)
  expect(as.counts.discovery).toBe(1);
});

test('auto, metadata without introspection_endpoint: one junk opaque token does not turn valid JWTs into 500s', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock, introspection: { ...RS_CLIENT } });
  open.push(t);
  as.metadata = { introspection_endpoint: undefined };
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const post = async (token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

  expect((await post(await sign(key))).status).toBe(200);
  // Anyone, without a token of their own, sends one non-JWS string.
  expect((await post('junk')).status).toBe(500); // no introspection endpoint
  const res = await post(await sign(key));
  expect(res.status).toBe(200);
  expect(t.calls()).toBe(2);
  // More junk: one re-read of the metadata per cooldown, not one per token.
  const before = as.counts.discovery;
  for (let i = 0; i < 5; i++) expect((await post(`junk${i}`)).status).toBe(500);
  expect(as.counts.discovery - before).toBeLessThanOrEqual(1);
  clock.advance(31_000);
  for (let i = 0; i < 5; i++) expect((await post(`junk-later${i}`)).status).toBe(500);
  expect(as.counts.discovery - before).toBeLessThanOrEqual(2);
  expect((await post(await sign(key, { jti: 'after' }))).status).toBe(200);
});
