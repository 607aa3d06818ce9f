/**
 * The verification cache: TTL bounded by exp and cacheMaxAgeSeconds (never 0/NaN/Infinity =
 * "forever"), negative answers kept briefly and apart, a bounded size, one upstream call for
 * concurrent lookups. Time comes from an injected clock; upstream calls are counted at a real
 * loopback introspection endpoint.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import request from 'supertest';
import { InvalidTokenError, mcpAuth, type Options } from '../../lib/index.js';
import type { AuthInfo } from '../../lib/types.js';
import { resolveOptions } from '../../lib/options.js';
import { VerificationCache } from '../../lib/verify/cache.js';
import { Verifier } from '../../lib/verify/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock, type FakeClock } from '../helpers/clock.js';
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';

const START = 1_900_000_000_000; // a whole second
let as: LoopbackAS;
const open: TestApp[] = [];

function app(clock: FakeClock, extra: Partial<Options> = {}): TestApp {
  const t = buildApp(opaqueOptions(as, { clock, clockTolerance: 0, ...extra }));
  open.push(t);
  return t;
}
async function status(t: TestApp, token: string): Promise<number> {
  return (await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status;
}

beforeAll(async () => {
  as = await startLoopbackAS();
});
beforeEach(() => {
  as.resetCounts();
  as.faults.introspection = 'ok';
  as.introspect = () => ({ body: { active: false } });
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

describe('VerificationCache (unit)', () => {
  const info = (expiresAt: number): AuthInfo => ({ token: 't', clientId: 'c', scopes: [], expiresAt });

  test('a TTL that is not a positive finite number is never stored', () => {
    const clock = fakeClock(START);
    const cache = new VerificationCache({ maxEntries: 10, maxAgeSeconds: 300, negativeSeconds: 10, clock });
    const now = clock.seconds();
    cache.set('past', info(now - 1), now - 1);
    cache.set('now', info(now), now);
    cache.set('nan', info(now + 60), Number.NaN);
    cache.set('neg-inf', info(now + 60), -Infinity);
    expect(cache.size).toBe(0);
    cache.set('inf', info(now + 60), Infinity); // capped by maxAge, not "forever"
    expect(cache.get('inf')).toBeDefined();
    clock.advance(300_000 + 1);
    expect(cache.get('inf')).toBeUndefined();
  });

  test('maxAgeSeconds 0 disables positive caching; negativeSeconds below 1 ms never means forever', () => {
    const clock = fakeClock(START);
    const off = new VerificationCache({ maxEntries: 10, maxAgeSeconds: 0, negativeSeconds: 0.0001, clock });
    off.set('k', info(clock.seconds() + 60), clock.seconds() + 60);
    expect(off.get('k')).toBeUndefined();
    off.setNegative('n', new InvalidTokenError({ reason: 'token_inactive' }));
    expect(off.getNegative('n')).toBeUndefined();
  });

  test('an entry read after its expiresAt is dropped even within its TTL', () => {
    const clock = fakeClock(START);
    const cache = new VerificationCache({ maxEntries: 10, maxAgeSeconds: 300, negativeSeconds: 10, clock });
    cache.set('k', info(clock.seconds() + 30), undefined); // TTL 300 s, but the AuthInfo says 30 s
    clock.advance(30_000);
    expect(cache.get('k')).toBeUndefined();
  });

  test('the key is the SHA-256 of the whole token, not the token', () => {
    const cache = new VerificationCache({ maxEntries: 10, maxAgeSeconds: 300, negativeSeconds: 10, clock: Date.now });
    expect(cache.key('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(cache.key('abc.')).not.toBe(cache.key('abc'));
  });
});

describe('TTL edge cases (introspection, injected clock)', () => {
  test('no exp: cached for cacheMaxAgeSeconds only', async () => {
    const clock = fakeClock(START);
    const t = app(clock, { cacheMaxAgeSeconds: 120 });
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: undefined }) });
    expect(await status(t, token)).toBe(200);
    clock.advance(119_000);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(1);
    clock.advance(1_001);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(2);
  });

  test.each([0, 0.5, 300])('no exp, cacheMaxAgeSeconds %p: expiresAt is ahead of now (the SDK would take it for expired otherwise)', async (cacheMaxAgeSeconds) => {
    const clock = fakeClock(START + 900);
    const t = app(clock, { cacheMaxAgeSeconds });
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: undefined }) });
    const info = await t.guard.verify(opaqueToken());
    expect(info.expiresAt).toBeGreaterThanOrEqual(clock() / 1000 + Math.max(cacheMaxAgeSeconds, 1));
    expect(Number.isInteger(info.expiresAt)).toBe(true);
  });

  test('exp ≤ now: refused (and exp within clockTolerance: accepted but not cached)', async () => {
    const clock = fakeClock(START);
    const t = app(clock);
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() }) });
    expect(await status(t, opaqueToken())).toBe(401);
    const lenient = app(clock, { clockTolerance: 5 });
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() - 5 }) });
    expect(await status(lenient, opaqueToken())).toBe(401);
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() - 2 }) });
    const late = opaqueToken();
    expect(await status(lenient, late)).toBe(200);
    expect(await status(lenient, late)).toBe(200);
    expect(as.counts.introspection).toBe(4); // the late token was introspected twice: never cached
  });

  test('huge exp: capped at cacheMaxAgeSeconds', async () => {
    const clock = fakeClock(START);
    const t = app(clock); // default 300 s
    const token = opaqueToken();
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 10 * 365 * 86400 }) });
    expect(await status(t, token)).toBe(200);
    clock.advance(299_000);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(1);
    clock.advance(1_001);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(2);
  });

  test('exp sooner than the maximum: the entry dies at exp and the token is then refused', async () => {
    const clock = fakeClock(START);
    const t = app(clock);
    const token = opaqueToken();
    const exp = clock.seconds() + 60;
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp }) });
    expect(await status(t, token)).toBe(200);
    clock.advance(59_000);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(1);
    clock.advance(1_000);
    expect(await status(t, token)).toBe(401);
    expect(as.counts.introspection).toBe(2);
    expect(t.calls()).toBe(2);
  });

  test('a verified JWT is cached too, never past its exp', async () => {
    const clock = fakeClock(START);
    const key = await makeKey('ES256');
    as.keys = [key.publicJwk];
    const options = { resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock, clockTolerance: 0 };
    const t = buildApp(options);
    open.push(t);
    const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: () => clock.seconds() });
    const jwt = await sign(key, { exp: clock.seconds() + 30 });
    expect(await status(t, jwt)).toBe(200);
    clock.advance(29_000);
    expect(await status(t, jwt)).toBe(200);
    clock.advance(1_000);
    expect(await status(t, jwt)).toBe(401);
    // The verifier itself: the second lookup is a synchronous hit (no signature check, no promise).
    const verifier = new Verifier(resolveOptions(options), undefined);
    try {
      const jwt2 = await sign(key, { exp: clock.seconds() + 30 });
      expect(await verifier.verify(jwt2)).toMatchObject({ expiresAt: clock.seconds() + 30 });
      expect(verifier.verify(jwt2)).not.toBeInstanceOf(Promise);
      clock.advance(30_000);
      const after = verifier.verify(jwt2);
      expect(after).toBeInstanceOf(Promise);
      await expect(after).rejects.toMatchObject({ reason: 'token_expired' });
    } finally {
      verifier.close();
    }
  });
});

describe('the grammar check before a lookup (protect() passes it)', () => {
  test('it runs when the cache knows nothing of the token, and not on a positive or negative hit', async () => {
    const clock = fakeClock(START);
    const verifier = new Verifier(resolveOptions(opaqueOptions(as, { clock })), undefined);
    const checked: string[] = [];
    const check = (token: string): void => { checked.push(token); };
    try {
      const good = opaqueToken();
      const bad = opaqueToken();
      as.introspect = (r) => ({ body: r.token === good ? activeAnswer(as, clock.seconds()) : { active: false } });
      await verifier.verify(good, undefined, check);
      expect(verifier.verify(good, undefined, check)).toMatchObject({ token: good });
      await expect(verifier.verify(bad, undefined, check)).rejects.toMatchObject({ reason: 'token_inactive' });
      await expect(verifier.verify(bad, undefined, check)).rejects.toMatchObject({ reason: 'token_inactive' });
      expect(checked).toEqual([good, bad]);
      expect(as.counts.introspection).toBe(2);
    } finally {
      verifier.close();
    }
  });

  test('a token it refuses is refused synchronously and reaches no upstream', () => {
    const verifier = new Verifier(resolveOptions(opaqueOptions(as)), undefined);
    try {
      const refuse = (): void => { throw new InvalidTokenError({ reason: 'malformed_token' }); };
      expect(() => verifier.verify(opaqueToken(), undefined, refuse)).toThrow(InvalidTokenError);
      expect(as.counts.introspection).toBe(0);
    } finally {
      verifier.close();
    }
  });
});

describe('negative caching', () => {
  test('an inactive answer cached negatively never becomes positive, and expires after negativeCacheSeconds', async () => {
    const clock = fakeClock(START);
    const t = app(clock, { negativeCacheSeconds: 10 });
    const token = opaqueToken();
    as.introspect = () => ({ body: { active: false } });
    expect(await status(t, token)).toBe(401);
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) }); // the server changes its mind
    expect(await status(t, token)).toBe(401);
    clock.advance(9_999);
    expect(await status(t, token)).toBe(401);
    expect(as.counts.introspection).toBe(1);
    clock.advance(2);
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(2);
    expect(t.calls()).toBe(1);
  });

  test('negativeCacheSeconds: 0 asks every time', async () => {
    const clock = fakeClock(START);
    const t = app(clock, { negativeCacheSeconds: 0 });
    const token = opaqueToken();
    expect(await status(t, token)).toBe(401);
    expect(await status(t, token)).toBe(401);
    expect(as.counts.introspection).toBe(2);
  });

  test('a flood of junk tokens cannot evict good positive entries', async () => {
    const clock = fakeClock(START);
    const good = [opaqueToken(), opaqueToken(), opaqueToken()];
    as.introspect = (r) => ({ body: good.includes(r.token ?? '') ? activeAnswer(as, clock.seconds()) : { active: false } });
    const t = app(clock, { cacheMaxEntries: 4 });
    for (const g of good) expect(await status(t, g)).toBe(200);
    const junk = await Promise.all(Array.from({ length: 60 }, () => t.guard.verify(opaqueToken()).then(() => 200, (e: { status: number }) => e.status)));
    expect(junk.every((s) => s === 401)).toBe(true);
    as.resetCounts();
    for (const g of good) expect(await status(t, g)).toBe(200);
    expect(as.counts.introspection).toBe(0);
  });

  test('the positive cache is bounded by cacheMaxEntries (least recently used goes first)', async () => {
    const clock = fakeClock(START);
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
    const t = app(clock, { cacheMaxEntries: 2 });
    const [a, b, c] = [opaqueToken(), opaqueToken(), opaqueToken()];
    for (const tok of [a, b, c]) expect(await status(t, tok)).toBe(200);
    as.resetCounts();
    expect(await status(t, c)).toBe(200);
    expect(as.counts.introspection).toBe(0);
    expect(await status(t, a)).toBe(200);
    expect(as.counts.introspection).toBe(1);
  });
});

describe('coalescing', () => {
  test('50 concurrent requests with one new token make one introspection call', async () => {
    const token = opaqueToken();
    const guard = mcpAuth(opaqueOptions(as));
    let arrived = 0;
    let release!: () => void;
    const allArrived = new Promise<void>((resolve) => { release = resolve; });
    // The endpoint holds its answer until all 50 requests are inside the guard: the cache cannot
    // be what makes it one call.
    as.introspect = async () => {
      await allArrived;
      return { body: activeAnswer(as, Math.floor(Date.now() / 1000)) };
    };
    let handled = 0;
    const ex = express();
    ex.use((_req, _res, next) => { if (++arrived === 50) setImmediate(release); next(); });
    ex.post('/mcp', guard.protect(), (_req, res) => { handled++; res.json({ ok: true }); });
    const server: Server = createServer(ex);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const statuses = await Promise.all(Array.from({ length: 50 }, () => request(server).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING).then((r) => r.status)));
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(handled).toBe(50);
      expect(as.counts.introspection).toBe(1);
    } finally {
      await guard.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('concurrent lookups of one token that fails share the failure, and the next one asks again', async () => {
    const token = opaqueToken();
    const t = app(fakeClock(START));
    as.faults.introspection = '500';
    const results = await Promise.all(Array.from({ length: 10 }, () => Promise.resolve(t.guard.verify(token)).then(() => 200, (e: { status: number }) => e.status)));
    expect(results.every((s) => s === 503)).toBe(true);
    expect(as.counts.introspection).toBe(1);
    as.faults.introspection = 'ok';
    as.introspect = () => ({ body: activeAnswer(as, START / 1000) });
    expect(await status(t, token)).toBe(200);
    expect(as.counts.introspection).toBe(2);
  });
});
