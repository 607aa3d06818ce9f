/**
 * Decision events (`onEvent`): the sequence per decision, key-set events, a throwing listener,
 * and no token material in any event. Real HTTP: supertest against the app, a loopback AS.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import type { GuardEvent } from '../lib/index.js';
import { buildApp, type TestApp } from './helpers/app.js';
import { fakeClock } from './helpers/clock.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let key: TestKey;
let sign: ReturnType<typeof tokenBuilder>;
const guards: TestApp[] = [];
/** Every event emitted in this file, and every token sent, for the final token-material scan. */
const allEvents: GuardEvent[] = [];
const allTokens = new Set<string>();

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
});
afterAll(async () => {
  for (const t of guards) await t.guard.close();
  await as.close();
});
beforeEach(() => {
  as.faults = { discovery: 'ok', jwks: 'ok', introspection: 'ok' };
  as.keys = [key.publicJwk];
  as.metadata = {};
});

/** A guard whose events land in `events`; `waitFor(type)` resolves on the next event of that type. */
function observed(options: Record<string, unknown> = {}) {
  const events: GuardEvent[] = [];
  const waiters: { type: string; resolve: (e: GuardEvent) => void }[] = [];
  const t = buildApp({
    resource: RESOURCE,
    issuer: as.issuer,
    jwksCooldownSeconds: 0,
    ...options,
    onEvent: (e: GuardEvent) => {
      events.push(e);
      allEvents.push(e);
      for (const w of waiters.splice(0)) {
        if (w.type === e.type) w.resolve(e);
        else waiters.push(w);
      }
    },
  });
  guards.push(t);
  return {
    ...t,
    events,
    /** Events since the last call. */
    take(): GuardEvent[] {
      return events.splice(0);
    },
    waitFor(type: GuardEvent['type']): Promise<GuardEvent> {
      return new Promise((resolve) => waiters.push({ type, resolve }));
    },
  };
}

async function token(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, k = key): Promise<string> {
  const t = await sign(k, claims, header);
  allTokens.add(t);
  return t;
}

function post(t: TestApp, bearer: string | undefined, body: unknown = { jsonrpc: '2.0', id: 1, method: 'ping' }) {
  const r = request(t.app).post('/mcp');
  if (bearer !== undefined) r.set('Authorization', bearer);
  return r.send(body as object);
}

const types = (events: GuardEvent[]) => events.map((e) => e.type);

describe('allow', () => {
  test('first request: keys_refreshed then allow (not cached); the same token again: allow from the cache', async () => {
    const t = observed();
    const tok = await token({ scope: 'mcp notes:read', client_id: 'client-7' });
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'search_notes', arguments: {} } };
    expect((await post(t, `Bearer ${tok}`, call)).status).toBe(200);
    const first = t.take();
    expect(types(first)).toEqual(['keys_refreshed', 'allow']);
    expect(first[0]).toEqual({ type: 'keys_refreshed', issuer: as.issuer, jwksUri: as.jwksUri, keyCount: 1 });
    expect(first[1]).toMatchObject({
      type: 'allow', tokenKind: 'jwt', issuer: as.issuer, kid: key.kid, clientId: 'client-7', tool: 'search_notes', cached: false,
    });
    const d = (first[1] as { durationMs: number }).durationMs;
    expect(Number.isFinite(d) && d >= 0).toBe(true);

    expect((await post(t, `Bearer ${tok}`)).status).toBe(200);
    const second = t.take();
    expect(types(second)).toEqual(['allow']);
    expect(second[0]).toMatchObject({ type: 'allow', tokenKind: 'jwt', kid: key.kid, cached: true });
    expect(second[0]).not.toHaveProperty('tool');
    // An allow answered from the cache says what the first said (same fields, same order), and so
    // does the next one, with the tool it names.
    const { tool: _tool, ...firstFacts } = first[1] as Record<string, unknown>;
    expect(JSON.stringify({ ...second[0], cached: false, durationMs: 0 })).toBe(JSON.stringify({ ...firstFacts, durationMs: 0 }));
    expect((await post(t, `Bearer ${tok}`, call)).status).toBe(200);
    expect(t.take()).toEqual([{ ...first[1], cached: true, durationMs: expect.any(Number) }]);
    expect(t.calls()).toBe(3);
  });
});

describe('deny: one event per refusal, with the stable code, reason and status', () => {
  test('no token', async () => {
    const t = observed();
    expect((await post(t, undefined)).status).toBe(401);
    const ev = t.take();
    expect(ev).toEqual([expect.objectContaining({ type: 'deny', code: 'UNAUTHORIZED', reason: 'missing_token', status: 401, tokenKind: 'none', cached: false })]);
    expect(ev[0]).not.toHaveProperty('issuer');
    expect(t.calls()).toBe(0);
  });

  test('malformed header (400) and malformed token (401)', async () => {
    const t = observed();
    expect((await post(t, 'Bearer a b')).status).toBe(400);
    expect(t.take()).toEqual([expect.objectContaining({ type: 'deny', code: 'INVALID_REQUEST', reason: 'malformed_header', status: 400, tokenKind: 'none' })]);
    allTokens.add('not-a-jwt');
    expect((await post(t, 'Bearer not-a-jwt')).status).toBe(401);
    expect(t.take()).toEqual([expect.objectContaining({ type: 'deny', code: 'UNAUTHORIZED', reason: 'malformed_token', status: 401, tokenKind: 'jwt' })]);
    expect(t.calls()).toBe(0);
  });

  test('expired: the verified issuer and client are named', async () => {
    const t = observed();
    const tok = await token({ exp: Math.floor(Date.now() / 1000) - 100 });
    expect((await post(t, `Bearer ${tok}`)).status).toBe(401);
    const deny = t.take().filter((e) => e.type === 'deny');
    expect(deny).toEqual([expect.objectContaining({ code: 'UNAUTHORIZED', reason: 'token_expired', status: 401, tokenKind: 'jwt', issuer: as.issuer, kid: key.kid, clientId: 'client-1' })]);
  });

  test('wrong audience', async () => {
    const t = observed();
    const tok = await token({ aud: 'https://other.example.com/mcp' });
    expect((await post(t, `Bearer ${tok}`)).status).toBe(401);
    expect(t.take().filter((e) => e.type === 'deny')).toEqual([expect.objectContaining({ reason: 'audience_mismatch', status: 401, issuer: as.issuer })]);
  });

  test('bad signature: no claim of the unverified token is reported', async () => {
    const t = observed();
    const other = await makeKey('RS256', key.kid);
    const tok = await token({ client_id: 'forged-client' }, {}, other);
    expect((await post(t, `Bearer ${tok}`)).status).toBe(401);
    const deny = t.take().filter((e) => e.type === 'deny');
    expect(deny).toEqual([expect.objectContaining({ reason: 'signature_invalid', status: 401, kid: key.kid })]);
    expect(deny[0]).not.toHaveProperty('clientId');
    expect(deny[0]).not.toHaveProperty('issuer');
  });

  test('insufficient scope (403) from requiredScopes: verified issuer, client and kid', async () => {
    const t = observed({ requiredScopes: ['mcp'] });
    const tok = await token({ scope: 'other' });
    expect((await post(t, `Bearer ${tok}`)).status).toBe(403);
    expect(t.take().filter((e) => e.type !== 'keys_refreshed')).toEqual([
      expect.objectContaining({ type: 'deny', code: 'FORBIDDEN', reason: 'insufficient_scope', status: 403, issuer: as.issuer, clientId: 'client-1', kid: key.kid }),
    ]);
    expect(t.calls()).toBe(0);
  });

  test('requireScopes() after protect(): allow, then deny', async () => {
    const { requireScopes } = await import('../lib/index.js');
    const events: GuardEvent[] = [];
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, onEvent: (e) => { events.push(e); allEvents.push(e); } }, {
      extra: (app, guard, handler) => app.post('/admin', guard.protect(), requireScopes('admin'), handler),
    });
    guards.push(t);
    const tok = await token({ scope: 'mcp' });
    expect((await request(t.app).post('/admin').set('Authorization', `Bearer ${tok}`).send({})).status).toBe(403);
    expect(types(events.filter((e) => e.type !== 'keys_refreshed'))).toEqual(['allow', 'deny']);
    expect(events.at(-1)).toMatchObject({ type: 'deny', reason: 'insufficient_scope', status: 403, clientId: 'client-1' });
    expect(t.calls()).toBe(0);
  });

  test('JWKS down: keys_refresh_failed, then deny 503 AUTH_UNAVAILABLE', async () => {
    as.faults.jwks = '500';
    const t = observed();
    const tok = await token();
    const res = await post(t, `Bearer ${tok}`);
    expect(res.status).toBe(503);
    const ev = t.take();
    expect(types(ev)).toEqual(['keys_refresh_failed', 'deny']);
    expect(ev[0]).toEqual({ type: 'keys_refresh_failed', issuer: as.issuer, jwksUri: as.jwksUri, reason: 'http_500' });
    expect(ev[1]).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable', status: 503, tokenKind: 'jwt', kid: key.kid });
  });

  test('metadata down: keys_refresh_failed names discovery_failed (no JWKS URI is known yet), then deny 503', async () => {
    as.faults.discovery = '500';
    const t = observed();
    const res = await post(t, `Bearer ${await token()}`);
    expect(res.status).toBe(503);
    const ev = t.take();
    expect(types(ev)).toEqual(['keys_refresh_failed', 'deny']);
    expect(ev[0]).toEqual({ type: 'keys_refresh_failed', issuer: as.issuer, jwksUri: '', reason: 'discovery_failed' });
    expect(ev[1]).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'discovery_failed', status: 503 });
  });
});

describe('key set events', () => {
  test('a new kid: keys_refreshed with the new key count, then allow', async () => {
    const t = observed();
    expect((await post(t, `Bearer ${await token()}`)).status).toBe(200);
    t.take();
    const rotated = await makeKey('ES256');
    as.keys = [key.publicJwk, rotated.publicJwk];
    expect((await post(t, `Bearer ${await token({}, {}, rotated)}`)).status).toBe(200);
    const ev = t.take();
    expect(ev).toEqual([
      { type: 'keys_refreshed', issuer: as.issuer, jwksUri: as.jwksUri, keyCount: 2 },
      expect.objectContaining({ type: 'allow', kid: rotated.kid, cached: false }),
    ]);
  });

  test('old keys past their max age while the JWKS fails: keys_refresh_failed, then stale_keys_served', async () => {
    const clock = fakeClock();
    const t = observed({ clock, jwksCacheMaxAgeSeconds: 60, jwksCooldownSeconds: 1, cacheMaxAgeSeconds: 0 });
    expect((await post(t, `Bearer ${await token()}`)).status).toBe(200);
    expect(types(t.take())).toEqual(['keys_refreshed', 'allow']);

    as.faults.jwks = '500';
    clock.advance(61_000);
    const failed = t.waitFor('keys_refresh_failed');
    expect((await post(t, `Bearer ${await token()}`)).status).toBe(200); // starts the background refresh
    expect(await failed).toEqual({ type: 'keys_refresh_failed', issuer: as.issuer, jwksUri: as.jwksUri, reason: 'http_500' });
    t.take();

    expect((await post(t, `Bearer ${await token()}`)).status).toBe(200);
    const ev = t.take();
    expect(ev).toEqual([
      { type: 'stale_keys_served', issuer: as.issuer, jwksUri: as.jwksUri, ageSeconds: 61 },
      expect.objectContaining({ type: 'allow', cached: false }),
    ]);
    expect(t.calls()).toBe(3);
  });
});

describe('introspection outage', () => {
  test('an opaque token while introspection fails: deny 503 (and introspection_failed once introspection emits it)', async () => {
    as.faults.introspection = '500';
    const t = observed({ tokenFormat: 'opaque', introspection: { url: as.introspectionUrl, clientId: 'rs', clientSecret: 'rs-secret' } });
    const opaque = `opaque-${createHash('sha256').update(String(Math.random())).digest('hex')}`;
    allTokens.add(opaque);
    const res = await post(t, `Bearer ${opaque}`);
    expect(res.status).toBe(503);
    const ev = t.take();
    expect(ev.at(-1)).toMatchObject({ type: 'deny', code: 'AUTH_UNAVAILABLE', status: 503, tokenKind: 'opaque' });
    expect(ev.at(-1)).not.toHaveProperty('kid');
    // The introspection module (its own issue) emits introspection_failed when it calls the endpoint.
    if (as.counts.introspection > 0) expect(types(ev)).toContain('introspection_failed');
    else expect(types(ev)).toEqual(['deny']);
  });
});

describe('listeners', () => {
  test('a throwing listener changes no response', async () => {
    const quiet = buildApp({ resource: RESOURCE, issuer: as.issuer });
    let thrown = 0;
    const loud = buildApp({ resource: RESOURCE, issuer: as.issuer, onEvent: () => { thrown++; throw new Error('listener bug'); } });
    guards.push(quiet, loud);
    const good = await token();
    const expired = await token({ exp: Math.floor(Date.now() / 1000) - 100 });
    for (const bearer of [`Bearer ${good}`, `Bearer ${expired}`, undefined, 'Bearer a b']) {
      const a = await post(quiet, bearer);
      const b = await post(loud, bearer);
      expect(b.status).toBe(a.status);
      expect(b.headers['www-authenticate']).toBe(a.headers['www-authenticate']);
      expect(b.body).toEqual(a.body);
    }
    expect(loud.calls()).toBe(1);
    expect(quiet.calls()).toBe(1);
    expect(thrown).toBeGreaterThanOrEqual(4);
  });

  test('an async listener that rejects changes no response and leaves no unhandled rejection (which would end the process)', async () => {
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => { unhandled.push(reason); };
    const previous = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', collect);
    let rejected = 0;
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer, onEvent: async () => { rejected++; throw new Error('log sink down'); } });
    guards.push(t);
    try {
      expect((await post(t, `Bearer ${await token()}`)).status).toBe(200);
      expect((await post(t, undefined)).status).toBe(401);
      // Rejections not handled by now are reported within the next turns of the loop.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(rejected).toBeGreaterThanOrEqual(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', collect);
      for (const l of previous) process.on('unhandledRejection', l as (...a: unknown[]) => void);
    }
  });

  test('without a listener the guard reads no performance clock', async () => {
    const t = buildApp({ resource: RESOURCE, issuer: as.issuer });
    guards.push(t);
    const tok = await token();
    expect((await post(t, `Bearer ${tok}`)).status).toBe(200); // warm keys and cache
    const original = performance.now;
    let reads = 0;
    performance.now = function now(this: Performance) { reads++; return original.call(this); };
    try {
      expect((await post(t, `Bearer ${tok}`)).status).toBe(200);
      expect((await post(t, undefined)).status).toBe(401);
    } finally {
      performance.now = original;
    }
    expect(reads).toBe(0);
    // The same requests with a listener do read it: the probe can see it.
    const o = observed();
    const before = reads;
    performance.now = function now(this: Performance) { reads++; return original.call(this); };
    try {
      expect((await post(o, `Bearer ${tok}`)).status).toBe(200);
    } finally {
      performance.now = original;
    }
    expect(reads).toBeGreaterThan(before);
  });
});

describe('no event carries token material', () => {
  function leaks(events: GuardEvent[], tokens: Iterable<string>): string[] {
    const found: string[] = [];
    const texts = events.map((e) => JSON.stringify(e));
    for (const tok of tokens) {
      const needles = new Set<string>([tok, ...tok.split('.').filter((p) => p.length >= 8)]);
      const digest = createHash('sha256').update(tok).digest();
      needles.add(digest.toString('hex'));
      needles.add(digest.toString('base64url'));
      needles.add(digest.toString('base64'));
      for (const n of needles) for (const text of texts) if (text.includes(n)) found.push(n.slice(0, 6));
    }
    return found;
  }

  test('the scanner finds a planted part and a planted hash', () => {
    const tok = 'aaaaaaaaaa.bbbbbbbbbb.cccccccccc';
    const hex = createHash('sha256').update(tok).digest('hex');
    expect(leaks([{ type: 'keys_refresh_failed', issuer: '', jwksUri: '', reason: 'x bbbbbbbbbb y' }], [tok])).toHaveLength(1);
    expect(leaks([{ type: 'keys_refresh_failed', issuer: '', jwksUri: '', reason: hex }], [tok])).toHaveLength(1);
    expect(leaks([{ type: 'keys_refresh_failed', issuer: '', jwksUri: '', reason: 'clean' }], [tok])).toHaveLength(0);
  });

  test('every event emitted above, JSON-stringified, holds no token, part or SHA-256 of one', () => {
    expect(allEvents.length).toBeGreaterThan(25);
    expect(allTokens.size).toBeGreaterThan(10);
    expect(new Set(types(allEvents))).toEqual(new Set(['allow', 'deny', 'introspection_failed', 'keys_refreshed', 'keys_refresh_failed', 'stale_keys_served']));
    expect(leaks(allEvents, allTokens)).toEqual([]);
  });
});
