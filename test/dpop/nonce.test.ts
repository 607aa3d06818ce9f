/**
 * DPoP server nonces (RFC 9449 §9; `dpopNonceSeconds`, `dpopNonceSecret`): the 401
 * `use_dpop_nonce` and its `DPoP-Nonce`, a nonce's life of one to two periods, the new nonce handed
 * out with a good answer, instances sharing a secret, the order of checks (nonce before signature
 * and replay record), every 401 carrying a nonce, and the options.
 * Real HTTP on 127.0.0.1 (a loopback JWKS), the guard's injected clock, no sleeps.
 */
import request, { type Response } from 'supertest';
import { ConfigError, fromEnv, mcpAuth, type GuardEvent } from '../../lib/index.js';
import { configForIssuer, resolveOptions } from '../../lib/options.js';
import { DpopNonces } from '../../lib/verify/dpop-nonce.js';
import { dpopSuite, type DpopServed } from '../helpers/dpop-suite.js';
import { PING } from '../helpers/opaque.js';

const suite = dpopSuite();
const { clock } = suite;
const SECRET = 'a-shared-secret-of-at-least-32-characters';
const PERIOD_MS = 60_000;
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/** Put the clock `intoPeriodMs` into a period of 60 s (so a test knows where the next one starts). */
function alignClock(intoPeriodMs = 1000): void {
  clock.set((Math.floor(clock() / PERIOD_MS) + 1) * PERIOD_MS + intoPeriodMs);
}

function post(s: DpopServed, token: string, proof: string): Promise<Response> {
  s.events.length = 0;
  return request(s.url).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
}

const denyReasons = (s: DpopServed): string[] => s.events.filter((e): e is Extract<GuardEvent, { type: 'deny' }> => e.type === 'deny').map((e) => e.reason);

/** A 401 use_dpop_nonce: DPoP challenge, a nonce to use, exposed to browsers, the handler not run. */
function expectNonceRequired(s: DpopServed, res: Response, before: number, reason: string): string {
  expect({ status: res.status, calls: s.calls(), reasons: denyReasons(s) }).toEqual({ status: 401, calls: before, reasons: [reason] });
  expect(res.headers['www-authenticate']).toMatch(new RegExp(`^DPoP error="use_dpop_nonce", error_description="[^"]+", resource_metadata="${s.metadataUrl.replace(/[.?]/g, '\\$&')}", algs="ES256 `));
  expect(res.headers['dpop-nonce']).toMatch(NONCE);
  expect(res.headers['access-control-expose-headers']).toBe('WWW-Authenticate, DPoP-Nonce');
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000, data: { code: 'UNAUTHORIZED', error: 'use_dpop_nonce' } } });
  return res.headers['dpop-nonce'] as string;
}

function expectAllowed(s: DpopServed, res: Response, before: number): void {
  expect({ status: res.status, calls: s.calls(), error: res.body?.error }).toEqual({ status: 200, calls: before + 1, error: undefined });
}

describe('dpopNonceSeconds: a proof must carry a nonce the guard handed out', () => {
  test('without a nonce: 401 use_dpop_nonce with one; the same request with it passes, and gets no new one', async () => {
    alignClock();
    const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const token = await s.bound();
    const refused = await post(s, token, await s.proof(token));
    const nonce = expectNonceRequired(s, refused, 0, 'dpop_nonce_missing');
    const res = await post(s, token, await s.proof(token, { claims: { nonce } }));
    expectAllowed(s, res, 0);
    expect(res.headers['dpop-nonce']).toBeUndefined();
  });

  test('a nonce lives one to two periods; a good answer with last period\'s nonce hands out the new one', async () => {
    alignClock(59_000); // one second before the next period
    const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const token = await s.bound(undefined, { exp: clock.seconds() + 3600 });
    const first = expectNonceRequired(s, await post(s, token, await s.proof(token)), 0, 'dpop_nonce_missing');

    clock.advance(1000); // the next period: first is last period's
    const rotated = await post(s, token, await s.proof(token, { claims: { nonce: first } }));
    expectAllowed(s, rotated, 0);
    const second = rotated.headers['dpop-nonce'] as string;
    expect(second).toMatch(NONCE);
    expect(second).not.toBe(first);
    expect(rotated.headers['access-control-expose-headers']).toBe('DPoP-Nonce');
    expect((await post(s, token, await s.proof(token, { claims: { nonce: second } }))).headers['dpop-nonce']).toBeUndefined();

    clock.advance(59_999); // still the period after first's: accepted
    expectAllowed(s, await post(s, token, await s.proof(token, { claims: { nonce: first } })), 2);
    clock.advance(1); // two periods after: refused, with the current nonce
    const expired = await post(s, token, await s.proof(token, { claims: { nonce: first } }));
    const third = expectNonceRequired(s, expired, 3, 'dpop_nonce_invalid');
    expect(third).not.toBe(second);
    expect(denyReasons(s)).toEqual(['dpop_nonce_invalid']);
    expectAllowed(s, await post(s, token, await s.proof(token, { claims: { nonce: third } })), 3);
  });

  test.each([
    ['a made-up value of the same form', 'A'.repeat(43)],
    ['a number', 1],
    ['an empty string', ''],
  ])('a nonce the guard never handed out (%s): 401 dpop_nonce_invalid', async (_label, nonce) => {
    const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const token = await s.bound();
    expectNonceRequired(s, await post(s, token, await s.proof(token, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
  });

  test('the nonce is checked before the signature and the replay record: a refused proof is not recorded', async () => {
    const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const token = await s.bound();
    // A forged signature without a nonce is asked for a nonce (no signature checked) ...
    const nonce = expectNonceRequired(s, await post(s, token, await s.proof(token, { tamperSignature: true })), 0, 'dpop_nonce_missing');
    // ... and with one, refused for its signature.
    const forged = await post(s, token, await s.proof(token, { tamperSignature: true, claims: { nonce } }));
    expect({ status: forged.status, error: forged.body.error.data.error, reasons: denyReasons(s) }).toEqual({ status: 401, error: 'invalid_dpop_proof', reasons: ['dpop_proof_invalid'] });
    // A jti refused for its nonce was not recorded: the client's next proof may carry it.
    expectNonceRequired(s, await post(s, token, await s.proof(token, { jti: 'jti-1' })), 0, 'dpop_nonce_missing');
    expectAllowed(s, await post(s, token, await s.proof(token, { jti: 'jti-1', claims: { nonce } })), 0);
    // (A replay is still one.)
    const replay = await post(s, token, await s.proof(token, { jti: 'jti-1', claims: { nonce } }));
    expect({ status: replay.status, reasons: denyReasons(s) }).toEqual({ status: 401, reasons: ['dpop_proof_replayed'] });
  });

  test('the key check comes first: a proof by another key is refused for its key, not asked for a nonce', async () => {
    const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const other = await s.bound({ ...suite.key(), thumbprint: 'x'.repeat(43) });
    const res = await post(s, other, await s.proof(other));
    expect({ status: res.status, reasons: denyReasons(s) }).toEqual({ status: 401, reasons: ['dpop_key_mismatch'] });
  });

  test('every 401 carries a nonce (a missing token, a bad bearer token with "allowed"); a 403 and a bearer request\'s answer none', async () => {
    const required = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const missing = await request(required.url).post('/mcp').send(PING);
    expect({ status: missing.status, challenge: missing.headers['www-authenticate'] }).toEqual({ status: 401, challenge: expect.stringMatching(/^DPoP /) });
    expect(missing.headers['dpop-nonce']).toMatch(NONCE);

    const allowed = await suite.serve({ dpop: 'allowed', dpopNonceSeconds: 60, requiredScopes: ['mcp'] });
    const bad = await request(allowed.url).post('/mcp').set('Authorization', 'Bearer not-a-jwt').send(PING);
    expect({ status: bad.status, challenge: bad.headers['www-authenticate'] }).toEqual({ status: 401, challenge: expect.stringMatching(/^Bearer error="invalid_token".*, DPoP algs="/) });
    expect(bad.headers['dpop-nonce']).toMatch(NONCE);
    const unscoped = await request(allowed.url).post('/mcp').set('Authorization', `Bearer ${await allowed.sign({ scope: 'other' })}`).send(PING);
    expect({ status: unscoped.status, nonce: unscoped.headers['dpop-nonce'] }).toEqual({ status: 403, nonce: undefined });
    const ok = await request(allowed.url).post('/mcp').set('Authorization', `Bearer ${await allowed.sign({ scope: 'mcp' })}`).send(PING);
    expect({ status: ok.status, nonce: ok.headers['dpop-nonce'] }).toEqual({ status: 200, nonce: undefined });
  });

  test('without dpopNonceSeconds no nonce is asked for or handed out, and a proof carrying one passes', async () => {
    const s = await suite.serve({ dpop: 'required' });
    const token = await s.bound();
    const res = await post(s, token, await s.proof(token, { claims: { nonce: 'anything' } }));
    expectAllowed(s, res, 0);
    expect(res.headers['dpop-nonce']).toBeUndefined();
    const missing = await request(s.url).post('/mcp').send(PING);
    expect({ status: missing.status, nonce: missing.headers['dpop-nonce'] }).toEqual({ status: 401, nonce: undefined });
  });
});

describe('dpopNonceSecret: instances behind one load balancer', () => {
  test('guards with the same secret, origin and period accept each other\'s nonces; another secret, period or origin does not', async () => {
    alignClock();
    const a = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    const same = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    const otherSecret = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: `${SECRET}!` });
    const noSecret = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 60 });
    const otherPeriod = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 120, dpopNonceSecret: SECRET });
    const otherResource = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    const token = await a.bound();
    const nonce = expectNonceRequired(a, await post(a, token, await a.proof(token)), 0, 'dpop_nonce_missing');

    const there = await post(same, token, await same.proof(token, { claims: { nonce } }));
    expectAllowed(same, there, 0);
    expect(there.headers['dpop-nonce']).toBeUndefined();
    expectNonceRequired(otherSecret, await post(otherSecret, token, await otherSecret.proof(token, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
    expectNonceRequired(noSecret, await post(noSecret, token, await noSecret.proof(token, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
    expectNonceRequired(otherPeriod, await post(otherPeriod, token, await otherPeriod.proof(token, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
    const elsewhere = await otherResource.bound();
    expectNonceRequired(otherResource, await post(otherResource, elsewhere, await otherResource.proof(elsewhere, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
  });

  test('without a secret, the guards of one process share one (and still refuse a configured secret\'s nonces)', async () => {
    const a = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 });
    const b = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 60 });
    const configured = await suite.serve({ resource: a.resource, dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    const token = await a.bound();
    const nonce = expectNonceRequired(a, await post(a, token, await a.proof(token)), 0, 'dpop_nonce_missing');
    expectAllowed(b, await post(b, token, await b.proof(token, { claims: { nonce } })), 0);
    expectNonceRequired(configured, await post(configured, token, await configured.proof(token, { claims: { nonce } })), 0, 'dpop_nonce_invalid');
  });

  test('an instance whose clock is a period ahead: its nonce passes here as current, ours there as last period\'s (with its own handed out)', async () => {
    alignClock();
    const here = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    const ahead = await suite.serve({ resource: here.resource, dpop: 'required', dpopNonceSeconds: 60, dpopNonceSecret: SECRET, clock: () => clock() + PERIOD_MS });
    const token = await here.bound();
    const ours = expectNonceRequired(here, await post(here, token, await here.proof(token)), 0, 'dpop_nonce_missing');
    const theirs = expectNonceRequired(ahead, await post(ahead, token, await ahead.proof(token)), 0, 'dpop_nonce_missing');
    expect(theirs).not.toBe(ours);
    const a = await post(here, token, await here.proof(token, { claims: { nonce: theirs } }));
    expectAllowed(here, a, 0);
    expect(a.headers['dpop-nonce']).toBeUndefined();
    const b = await post(ahead, token, await ahead.proof(token, { claims: { nonce: ours } }));
    expectAllowed(ahead, b, 0);
    expect(b.headers['dpop-nonce']).toBe(theirs);
  });
});

test('a nonce is made of the secret, the origin, the period length and the period\'s number (DpopNonces)', () => {
  const at = (periodSeconds: number, k: number): (() => number) => () => k * periodSeconds * 1000 + 1;
  const nonceOf = (secret: string, periodSeconds: number, origin: string, k: number): string => new DpopNonces(secret, periodSeconds, origin, at(periodSeconds, k)).current();
  const base = nonceOf(SECRET, 60, 'https://mcp.example.com', 1000);
  expect(base).toMatch(NONCE);
  expect(nonceOf(SECRET, 60, 'https://mcp.example.com', 1000)).toBe(base);
  // The same period number k of another length, origin, secret; the next period.
  expect(new Set([base, nonceOf(SECRET, 120, 'https://mcp.example.com', 1000), nonceOf(SECRET, 60, 'https://mcp.example.com:8443', 1000), nonceOf(`${SECRET}!`, 60, 'https://mcp.example.com', 1000), nonceOf(SECRET, 60, 'https://mcp.example.com', 1001)]).size).toBe(5);
});

describe('options', () => {
  const base = { resource: 'https://mcp.example.com/mcp', issuer: 'https://as.example.com' };
  const problemsOf = (o: Record<string, unknown>): readonly string[] => {
    try {
      mcpAuth({ ...base, ...o } as never);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    return [];
  };

  test.each([
    ['dpop off', { dpopNonceSeconds: 60 }, 'dpopNonceSeconds needs dpop "allowed" or "required" (nonces go in DPoP proofs)'],
    ['over an hour', { dpop: 'allowed', dpopNonceSeconds: 3601 }, 'dpopNonceSeconds must be 0 (no nonce) or a whole number of seconds from 10 to 3600'],
    ['negative', { dpop: 'allowed', dpopNonceSeconds: -1 }, 'dpopNonceSeconds must be 0 (no nonce) or a whole number of seconds from 10 to 3600'],
    ['under 10 s (a nonce must outlive a round trip and a retry)', { dpop: 'allowed', dpopNonceSeconds: 9 }, 'dpopNonceSeconds must be 0 (no nonce) or a whole number of seconds from 10 to 3600'],
    ['a fraction of a second', { dpop: 'allowed', dpopNonceSeconds: 0.5 }, 'dpopNonceSeconds must be 0 (no nonce) or a whole number of seconds from 10 to 3600'],
    ['a short secret', { dpop: 'allowed', dpopNonceSeconds: 60, dpopNonceSecret: 'short' }, 'dpopNonceSecret must be a string of at least 32 characters (random: `openssl rand -base64 32`)'],
    ['a secret that is no string', { dpop: 'allowed', dpopNonceSeconds: 60, dpopNonceSecret: 42 }, 'dpopNonceSecret must be a string of at least 32 characters (random: `openssl rand -base64 32`)'],
    ['a secret without dpopNonceSeconds', { dpop: 'allowed', dpopNonceSecret: SECRET }, 'dpopNonceSecret is set but dpopNonceSeconds is not (no nonce is made without it)'],
  ])('%s is refused', (_label, o, problem) => {
    expect(problemsOf(o)).toEqual([problem]);
  });

  test('the secret is readable on guard.config but never enumerated (logs, JSON)', async () => {
    const guard = mcpAuth({ ...base, dpop: 'allowed', dpopNonceSeconds: 60, dpopNonceSecret: SECRET });
    try {
      expect(guard.config.dpopNonceSecret).toBe(SECRET);
      expect(guard.config.dpopNonceSeconds).toBe(60);
      expect(JSON.stringify(guard.config)).not.toContain(SECRET);
      expect(Object.keys(guard.config)).not.toContain('dpopNonceSecret');
    } finally {
      await guard.close();
    }
  });

  test('MCP_AUTH_DPOP_NONCE_SECONDS and MCP_AUTH_DPOP_NONCE_SECRET', () => {
    const o = fromEnv({ MCP_AUTH_RESOURCE: base.resource, MCP_AUTH_ISSUER: base.issuer, MCP_AUTH_DPOP: 'required', MCP_AUTH_DPOP_NONCE_SECONDS: '30', MCP_AUTH_DPOP_NONCE_SECRET: SECRET });
    expect(o).toMatchObject({ dpop: 'required', dpopNonceSeconds: 30, dpopNonceSecret: SECRET });
  });

  test('configForIssuer keeps dpopNonceSecret (readable, still not enumerable) for every trusted issuer', () => {
    const c = resolveOptions({
      resource: 'https://mcp.example.com/mcp',
      issuer: ['https://as1.example.com', 'https://as2.example.com'],
      dpop: 'allowed',
      dpopNonceSeconds: 60,
      dpopNonceSecret: SECRET,
    });
    expect(c.dpopNonceSecret).toBe(SECRET);
    const second = configForIssuer(c, 'https://as2.example.com');
    expect(second.issuer).toBe('https://as2.example.com');
    expect(second.dpopNonceSecret).toBe(SECRET);
    expect(Object.keys(second)).not.toContain('dpopNonceSecret');
  });
});
