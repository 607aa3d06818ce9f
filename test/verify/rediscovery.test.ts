/**
 * A discovered metadata document is read again (once per cooldown) when it cannot serve what is
 * asked of it: no `jwks_uri`, no `introspection_endpoint`, or a `jwks_uri` that no longer serves a
 * key set (the keys moved). A transient bad deployment of the authorization server does not
 * become a permanent outage ("503 until a fetch succeeds"). Until a re-read succeeds the old
 * document keeps serving whoever still relies on it:
 * - `auto`: a JWKS answering an HTTP error (an AS outage behind a load balancer) marks the
 *   metadata stale; JWTs still need it (`#publishesKeys`), and a failed re-read changes nothing:
 *   the last good keys keep serving (README: "the last good keys keep serving");
 * - `auto`: a JWKS failure does not take the introspection path (same document) down with it;
 * - a configured `jwksUri` failing never makes the guard re-read the metadata;
 * - `auto`: opaque (junk) tokens against a server whose metadata has no introspection_endpoint
 *   are 500 each, make at most one re-read per cooldown, and never turn valid JWTs into 500s;
 * - requests do not wait for the re-read: a hanging metadata endpoint delays nobody;
 * - a re-read that names another issuer is refused, the old document keeps serving, and once the
 *   keys are gone the 503 names the cause (as a cold start does), not the keys.
 * Real HTTP to loopback authorization servers, injected clock.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  as.introspect = () => ({ body: { active: false } });
  as.resetCounts();
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

test('metadata served once without jwks_uri, then fixed: the guard recovers after the cooldown', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, clock });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });

  as.metadata = { jwks_uri: undefined }; // a transient bad deployment of the authorization server
  const first = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(first.status).toBe(503);
  expect(first.headers['retry-after']).toBe('30');

  as.metadata = {}; // fixed
  clock.advance(31_000); // past the Retry-After the guard itself announced
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
  expect(res.status).toBe(200);
  expect(as.counts.discovery).toBe(2); // the metadata is read again, once
  expect(t.calls()).toBe(1);
});

test('metadata served once without introspection_endpoint, then fixed: opaque tokens work again after the cooldown', async () => {
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, tokenFormat: 'opaque', clock, introspection: { clientId: 'rs', clientSecret: 'rs-secret' } });
  open.push(t);
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const token = opaqueToken();

  as.metadata = { introspection_endpoint: undefined };
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBeGreaterThanOrEqual(500);

  as.metadata = {};
  clock.advance(3_600_000); // an hour later
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(200);
  expect(as.counts.discovery).toBe(2);
  expect(as.counts.introspection).toBe(1);
});

test('the authorization server moves its JWKS (new jwks_uri, the old one 404s): the guard re-reads the metadata', async () => {
  // A server of our own: metadata whose jwks_uri can change, and two key endpoints.
  const state = { jwksPath: '/keys-v1', hits: { metadata: 0, v1: 0, v2: 0 } };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const json = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    if (path === '/.well-known/oauth-authorization-server') {
      state.hits.metadata++;
      return json(200, { issuer, jwks_uri: `${issuer}${state.jwksPath}`, response_types_supported: ['code'] });
    }
    if (path === '/keys-v1') { state.hits.v1++; return state.jwksPath === '/keys-v1' ? json(200, { keys: [key.publicJwk] }) : json(404, { error: 'gone' }); }
    if (path === '/keys-v2') { state.hits.v2++; return json(200, { keys: [key.publicJwk] }); }
    return json(404, {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const clock = fakeClock(1_800_000_000_000);
    const t = buildApp({ resource: RESOURCE, issuer, clock, jwksCacheMaxAgeSeconds: 60, jwksMaxStaleSeconds: 60 });
    open.push(t);
    const sign = tokenBuilder({ issuer, audience: RESOURCE, nowSeconds: clock.seconds });
    const post = async () => request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
    expect((await post()).status).toBe(200);

    state.jwksPath = '/keys-v2'; // same keys, new address; the old address now answers 404
    // Past max age + max stale in one step: the old keys are dropped and fetched again in the foreground.
    clock.advance(125_000);
    const statuses = [(await post()).status];
    // Then one request per cooldown: each may refetch (and re-discover).
    for (let i = 0; i < 3; i++) {
      clock.advance(31_000);
      statuses.push((await post()).status);
    }
    expect(statuses[statuses.length - 1]).toBe(200);
    expect(state.hits.metadata).toBeGreaterThanOrEqual(2);
    expect(state.hits.v2).toBeGreaterThanOrEqual(1);
  } finally {
    await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  }
});


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
  expect(res.status).toBe(200);
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
  expect(res.status).toBe(200);
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

// A stale document keeps serving at once while it is read again in the background: requests do not
// wait for a hanging re-read (httpTimeoutSeconds 60, beyond the test's own timeout).
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

// A re-read naming another issuer is refused; the old document keeps serving, and the cause is named
// once the keys are gone.
const MISMATCH = 'The authorization server metadata names a different issuer than the configured one';
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
