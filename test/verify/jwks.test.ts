/**
 * The key set's timing rules over real HTTP against a loopback authorization server, with an
 * injected clock: cooldown, rotation, floods of unknown kids, cold-start failures, stale serving
 * and its end. Fetch counts are asserted; the handler never runs on a failure.
 */
import { generateKeyPairSync } from 'node:crypto';
import * as net from 'node:net';
import type { JWK } from 'jose';
import request from 'supertest';
import type { GuardEvent, Options } from '../../lib/index.js';
import { mcpAuth, McpAuthError } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock, type FakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type Fault, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

let as: LoopbackAS;
let key: TestKey;
let next: TestKey;
const open: TestApp[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  [key, next] = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
});
beforeEach(() => {
  as.keys = [key.publicJwk];
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.metadata = {};
  as.resetCounts();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.guard.close()));
});
afterAll(() => as.close());

interface Fixture extends TestApp {
  clock: FakeClock;
  events: GuardEvent[];
  sign: ReturnType<typeof tokenBuilder>;
  post(token: string): Promise<request.Response>;
}

function fixture(over: Partial<Options> = {}): Fixture {
  const clock = fakeClock(1_800_000_000_000);
  const events: GuardEvent[] = [];
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock, onEvent: (e) => events.push(e), ...over });
  open.push(t);
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  return { ...t, clock, events, sign, post: (token) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING) };
}

/** Wait (bounded) for an asynchronous background effect, e.g. a refresh's completion event. */
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}
const refreshes = (f: Fixture) => f.events.filter((e) => e.type === 'keys_refreshed' || e.type === 'keys_refresh_failed').length;

function randomKid(): string {
  return `kid-${Math.random().toString(36).slice(2)}`;
}

describe('cooldown and rotation', () => {
  test('a new kid is picked up after the cooldown, not before', async () => {
    const f = fixture();
    expect((await f.post(await f.sign(key))).status).toBe(200);
    expect(as.counts.jwks).toBe(1);
    as.keys = [key.publicJwk, next.publicJwk];
    const rotated = await f.sign(next);
    const early = await f.post(rotated);
    expect(early.status).toBe(401);
    expect(early.body.error.data.code).toBe('UNAUTHORIZED');
    expect(as.counts.jwks).toBe(1);
    f.clock.advance(29_000);
    expect((await f.post(rotated)).status).toBe(401);
    expect(as.counts.jwks).toBe(1);
    f.clock.advance(1_000);
    const before = f.calls();
    expect((await f.post(rotated)).status).toBe(200);
    expect(f.calls()).toBe(before + 1);
    expect(as.counts.jwks).toBe(2);
    // The old key is retired: its tokens keep passing until the set is refreshed (max age), then fail.
    as.keys = [next.publicJwk];
    f.clock.advance(30_000);
    expect((await f.post(await f.sign(key, { jti: 'x' }))).status).toBe(200);
    expect(as.counts.jwks).toBe(2);
    f.clock.advance(600_000);
    expect((await f.post(await f.sign(key, { jti: 'y' }))).status).toBe(200); // stale-while-refresh
    await waitFor(() => refreshes(f) === 3);
    expect(as.counts.jwks).toBe(3);
    expect((await f.post(await f.sign(key, { jti: 'z' }))).status).toBe(401);
    expect(as.counts.jwks).toBe(3);
  });

  test('the cooldown option is honoured (jwksCooldownSeconds: 5)', async () => {
    const f = fixture({ jwksCooldownSeconds: 5 });
    await f.guard.ready();
    as.keys = [next.publicJwk];
    f.clock.advance(5_000);
    expect((await f.post(await f.sign(next))).status).toBe(200);
    expect(as.counts.jwks).toBe(2);
  });

  test('concurrent cold requests share one discovery and one JWKS fetch', async () => {
    const f = fixture({ jwksUri: undefined });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => f.sign(key)));
    const res = await Promise.all(tokens.map((t) => f.post(t)));
    expect(res.map((r) => r.status)).toEqual(tokens.map(() => 200));
    expect(as.counts.discovery).toBe(1);
    expect(as.counts.oidcDiscovery).toBe(0);
    expect(as.counts.jwks).toBe(1);
  });
});

describe('a flood of random kids (100 tokens)', () => {
  async function flood(f: Fixture): Promise<number[]> {
    const tokens = await Promise.all(Array.from({ length: 100 }, () => f.sign(key, {}, { kid: randomKid() })));
    const res = await Promise.all(tokens.map((t) => f.post(t)));
    return res.map((r) => r.status);
  }

  test('healthy JWKS, cold: all 401, at most two fetches', async () => {
    const f = fixture();
    const statuses = await flood(f);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(as.counts.jwks).toBeGreaterThanOrEqual(1);
    expect(as.counts.jwks).toBeLessThanOrEqual(2);
    expect(f.calls()).toBe(0);
  });

  test('healthy JWKS, warm, cooldown over: all 401, one more fetch', async () => {
    const f = fixture();
    await f.guard.ready();
    f.clock.advance(60_000);
    const statuses = await flood(f);
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(as.counts.jwks).toBe(2);
    expect(f.calls()).toBe(0);
  });

  test('failing JWKS, cold: all 503, at most two fetches', async () => {
    as.faults.jwks = '500';
    const f = fixture();
    const statuses = await flood(f);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(as.counts.jwks).toBeGreaterThanOrEqual(1);
    expect(as.counts.jwks).toBeLessThanOrEqual(2);
    expect(f.calls()).toBe(0);
  });

  test('keys loaded, endpoint failing, cooldown over: unknown kids 503 (not the token\'s fault), known kid 200', async () => {
    const f = fixture();
    await f.guard.ready();
    as.faults.jwks = '500';
    f.clock.advance(60_000);
    const statuses = await flood(f);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expect(as.counts.jwks).toBe(2);
    expect((await f.post(await f.sign(key))).status).toBe(200);
    expect(f.calls()).toBe(1);
  });
});

describe('cold start failures → 503 + Retry-After within the timeout', () => {
  const faults: Fault[] = ['500', '404', 'html', 'not-json', 'empty', 'huge', 'reset', 'hang'];
  test.each(faults)('JWKS %s', async (fault) => {
    as.faults.jwks = fault;
    const f = fixture({ httpTimeoutSeconds: 0.3, jwksMaxBytes: 65536 });
    const started = performance.now();
    const res = await f.post(await f.sign(key));
    const ms = performance.now() - started;
    expect(res.status).toBe(503);
    expect(res.body.error.data.code).toBe('AUTH_UNAVAILABLE');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(ms).toBeLessThan(300 + 700);
    expect(f.calls()).toBe(0);
    const err = await f.guard.ready().catch((e: McpAuthError) => e);
    expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable', status: 503 });
    expect(as.counts.jwks).toBe(1); // ready() during the cooldown does not fetch again
  });

  test.each<Fault>(['500', 'hang', 'html'])('discovery %s (no jwksUri configured)', async (fault) => {
    as.faults.discovery = fault;
    const f = fixture({ jwksUri: undefined, httpTimeoutSeconds: 0.3 });
    const started = performance.now();
    const res = await f.post(await f.sign(key));
    const ms = performance.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(ms).toBeLessThan(300 + 700);
    expect(as.counts.jwks).toBe(0);
    expect(as.counts.discovery).toBe(1);
    // After a timeout the OIDC fallback is skipped (one timeout, not two); after an answer it is tried.
    expect(as.counts.oidcDiscovery).toBe(fault === 'hang' ? 0 : 1);
    const err = await f.guard.ready().catch((e: McpAuthError) => e);
    expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'discovery_failed' });
  });

  test('authorization server down: ready() rejects with discovery_failed, and its cause names the socket error (not a wrapper)', async () => {
    const srv = net.createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    const guard = mcpAuth({ resource: RESOURCE, issuer: `http://127.0.0.1:${port}`, httpTimeoutSeconds: 2 });
    try {
      const err = await guard.ready().catch((e: McpAuthError) => e);
      expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'discovery_failed' });
      expect((err as McpAuthError).cause).toMatchObject({ name: 'FetchFailure', kind: 'network', code: 'ECONNREFUSED' });
    } finally {
      await guard.close();
    }
  });

  test('metadata naming another issuer: 503 (not 401), ready() rejects with discovery_failed and the cause', async () => {
    as.metadata = { issuer: 'http://127.0.0.1:1' };
    const f = fixture({ jwksUri: undefined });
    const res = await f.post(await f.sign(key));
    expect(res.status).toBe(503);
    expect(res.body.error.data.code).toBe('AUTH_UNAVAILABLE');
    expect(f.calls()).toBe(0);
    f.clock.advance(60_000);
    const err = await f.guard.ready().catch((e: McpAuthError) => e);
    expect(err).toBeInstanceOf(McpAuthError);
    expect(err).toMatchObject({ reason: 'discovery_failed', status: 503 });
    expect((err as McpAuthError).cause).toMatchObject({ code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' });
    expect(as.counts.jwks).toBe(0);
  });

  test.each([['a trailing slash', '/'], ['an upper-case scheme', 'HTTP']])('metadata naming the issuer with %s is another issuer (RFC 8414 §3.3, string for string): 503, ready() rejects', async (_name, variant) => {
    as.metadata = { issuer: variant === '/' ? `${as.issuer}/` : as.issuer.replace('http://', 'HTTP://') };
    const f = fixture({ jwksUri: undefined });
    // A token the server issued under the name it publishes: the configuration is at fault, not the token.
    const published = tokenBuilder({ issuer: String(as.metadata.issuer), audience: RESOURCE, nowSeconds: f.clock.seconds });
    const res = await f.post(await published(key));
    expect({ status: res.status, code: res.body.error.data.code }).toEqual({ status: 503, code: 'AUTH_UNAVAILABLE' });
    f.clock.advance(60_000);
    await expect(f.guard.ready()).rejects.toMatchObject({ reason: 'discovery_failed', description: expect.stringMatching(/different issuer/) });
    expect(as.counts.jwks).toBe(0);
  });

  test('a discovered jwks_uri that is plain http: on another host is refused: 503 discovery_failed, nothing fetched', async () => {
    as.metadata = { jwks_uri: 'http://jwks.example.com/keys' };
    const f = fixture({ jwksUri: undefined });
    const res = await f.post(await f.sign(key));
    expect(res.status).toBe(503);
    f.clock.advance(60_000);
    await expect(f.guard.ready()).rejects.toMatchObject({ reason: 'discovery_failed' });
    expect(as.counts.jwks).toBe(0);
    expect(f.calls()).toBe(0);
  });

  test('a set of only symmetric or encryption keys is no usable key set: 503', async () => {
    as.keys = [{ kty: 'oct', k: 'c2VjcmV0', kid: key.kid }, { ...next.publicJwk, use: 'enc' }];
    const f = fixture();
    expect((await f.post(await f.sign(key))).status).toBe(503);
  });

  const weakRsa = () => ({ ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: key.kid }) as JWK;
  test.each<[string, () => JWK[], Partial<Options>]>([
    ['an RSA encryption key named by alg (RSA-OAEP, no use)', () => [{ ...key.publicJwk, use: undefined, alg: 'RSA-OAEP' }], {}],
    ['a key whose key_ops exclude verify', () => [{ ...key.publicJwk, use: undefined, alg: undefined, key_ops: ['encrypt'] }], {}],
    ['a key whose key_ops add sign to verify (no usage a public key has)', () => [{ ...key.publicJwk, key_ops: ['sign', 'verify'] }], {}],
    ['a key whose key_ops repeat verify (jose never selects it)', () => [{ ...key.publicJwk, key_ops: ['verify', 'verify'] }], {}],
    ['a key with a non-boolean ext (jose never selects it)', () => [{ ...key.publicJwk, ext: 'true' } as unknown as JWK], {}],
    ['an X25519 key-agreement key', () => [{ ...generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }), kid: key.kid } as JWK], {}],
    ['a 1024-bit RSA key (jose verifies with 2048 bits or more)', () => [weakRsa()], {}],
    ['an EC key whose point is not on its curve', () => [{ ...next.publicJwk, x: next.publicJwk.y, kid: key.kid }], {}],
    ['a key with its private part (d)', () => [{ ...(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK), kid: key.kid }], {}],
    ['a key whose alg is not accepted (PS256, algorithms RS256)', () => [{ ...key.publicJwk, alg: 'PS256' }], { algorithms: ['RS256'] }],
    ['a key of a type no accepted algorithm uses (EC, algorithms RS256)', () => [{ ...next.publicJwk, kid: key.kid, alg: undefined }], { algorithms: ['RS256'] }],
  ])('a set of only %s is no usable key set: 503 (not the token\'s fault), the handler never runs', async (_name, keys, over) => {
    as.keys = keys();
    const f = fixture(over);
    const res = await f.post(await f.sign(key));
    expect({ status: res.status, code: res.body.error.data.code }).toEqual({ status: 503, code: 'AUTH_UNAVAILABLE' });
    expect(f.events.find((e) => e.type === 'keys_refresh_failed')).toBeDefined();
    expect(f.calls()).toBe(0);
  });

  test('unusable keys beside a good one are left out: keyCount counts the good one, its tokens pass', async () => {
    as.keys = [weakRsa(), { ...key.publicJwk, alg: 'RSA-OAEP', use: undefined, kid: 'enc' }, { ...key.publicJwk, key_ops: ['verify'], ext: true }];
    const f = fixture();
    expect((await f.post(await f.sign(key))).status).toBe(200);
    expect(f.events.find((e) => e.type === 'keys_refreshed')).toMatchObject({ keyCount: 1 });
  });

  test('the failure backs off: no refetch during the cooldown; recovery after it', async () => {
    as.faults.jwks = '500';
    const f = fixture();
    const token = await f.sign(key);
    const first = await f.post(token);
    expect(first.status).toBe(503);
    expect(Number(first.headers['retry-after'])).toBe(30);
    f.clock.advance(20_000);
    const second = await f.post(token);
    expect(second.status).toBe(503);
    expect(Number(second.headers['retry-after'])).toBe(10);
    expect(as.counts.jwks).toBe(1);
    as.faults.jwks = 'ok';
    f.clock.advance(10_000);
    expect((await f.post(token)).status).toBe(200);
    expect(as.counts.jwks).toBe(2);
    expect(f.events.map((e) => e.type)).toEqual(expect.arrayContaining(['keys_refresh_failed', 'keys_refreshed']));
  });
});

describe('tokens without kid', () => {
  test('several keys of the type: each candidate is tried (at most 4); a foreign key still fails', async () => {
    const extra = await Promise.all([makeKey('RS256'), makeKey('RS256'), makeKey('RS256'), makeKey('RS256')]);
    const noKid = (k: TestKey) => ({ ...k.publicJwk, kid: undefined });
    as.keys = [key, ...extra].map(noKid);
    const f = fixture();
    expect((await f.post(await f.sign(key, {}, { kid: undefined }))).status).toBe(200);
    expect((await f.post(await f.sign(extra[2]!, {}, { kid: undefined }))).status).toBe(200);
    // The fifth candidate is beyond the bound: refused (401), never a 500.
    expect((await f.post(await f.sign(extra[3]!, {}, { kid: undefined }))).status).toBe(401);
    expect((await f.post(await f.sign(next, {}, { kid: undefined, alg: 'ES256' }))).status).toBe(401);
    const foreign = await makeKey('RS256');
    const res = await f.post(await f.sign(foreign, {}, { kid: undefined }));
    expect(res.status).toBe(401);
    expect(f.calls()).toBe(2);
    const reason = await f.guard.verify(await f.sign(foreign, { jti: 'f2' }, { kid: undefined })).catch((e: McpAuthError) => e.reason);
    expect(reason).toBe('signature_invalid');
    expect(as.counts.jwks).toBe(1);
  });

  test('an unusable key listed first does not decide: the token passes in either order', async () => {
    const weak = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), use: 'sig' } as JWK;
    const good = { ...key.publicJwk, kid: undefined, alg: undefined };
    for (const keys of [[good, weak], [weak, good]]) {
      as.keys = keys;
      const f = fixture();
      expect((await f.post(await f.sign(key, {}, { kid: undefined }))).status).toBe(200);
    }
  });
});

describe('stale serving', () => {
  test('keys loaded, then the endpoint fails: tokens still pass while stale; the stale window ends in 503', async () => {
    const f = fixture({ jwksCacheMaxAgeSeconds: 600, jwksMaxStaleSeconds: 3600 });
    await f.guard.ready();
    as.faults.jwks = '500';
    f.clock.advance(601_000); // past max age: background refresh, which fails
    expect((await f.post(await f.sign(key))).status).toBe(200);
    await waitFor(() => refreshes(f) === 2);
    f.clock.advance(60_000);
    expect((await f.post(await f.sign(key))).status).toBe(200);
    expect(as.counts.jwks).toBeGreaterThanOrEqual(2);
    expect(f.events.some((e) => e.type === 'stale_keys_served')).toBe(true);
    expect(f.calls()).toBe(2);
    f.clock.set(1_800_000_000_000 + (600 + 3600) * 1000 + 1);
    const res = await f.post(await f.sign(key));
    expect(res.status).toBe(503);
    expect(res.body.error.data.code).toBe('AUTH_UNAVAILABLE');
    expect(f.calls()).toBe(2);
  });

  test('keys loaded, then the endpoint hangs: a token is answered without waiting for the refresh', async () => {
    const f = fixture({ httpTimeoutSeconds: 2 });
    await f.guard.ready();
    as.faults.jwks = 'hang';
    f.clock.advance(601_000);
    const started = performance.now();
    expect((await f.post(await f.sign(key))).status).toBe(200);
    // Waiting for the hung refresh would take the 2 s timeout; the margin is for a loaded CI machine.
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test('a background refresh that succeeds replaces the keys', async () => {
    const f = fixture();
    await f.guard.ready();
    as.keys = [next.publicJwk];
    f.clock.advance(601_000);
    expect((await f.post(await f.sign(key))).status).toBe(200); // served from the old set, refresh started
    await waitFor(() => refreshes(f) === 2);
    expect(as.counts.jwks).toBe(2);
    expect((await f.post(await f.sign(next))).status).toBe(200);
    expect(as.counts.jwks).toBe(2);
  });
});
