/**
 * DPoP (RFC 9449) on the resource-server side: a proof-validation battery modelled on the MCP
 * conformance scenario for servers (SEP-1932), written from the DPoP contract and the RFC.
 * Real HTTP on 127.0.0.1: a loopback AS (JWKS, introspection) and one listening app per guard,
 * whose `resource` is its own URL (so `htu` is the URL the request went to). Time is the guard's
 * injected clock: no sleeps.
 */
import { createHash } from 'node:crypto';
import request, { type Response } from 'supertest';
import express, { type Express } from 'express';
import { ConfigError, DEFAULT_ALGORITHMS, DEFAULT_DPOP_ALGORITHMS, ENV_VARIABLES, fromEnv, mcpAuth, requireScopes, type GuardEvent, type McpAuthGuard, type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { athOf, buildProof, makeDpopKey, type DpopKey, type ProofOptions } from '../helpers/dpop.js';
import { listen, rawRequest, type Listening } from '../helpers/http.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { PING } from '../helpers/opaque.js';

const DEFAULT_ALGS = ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512', 'EdDSA', 'Ed25519'];

test('the default DPoP algorithms are exactly the access tokens\' (DEFAULT_ALGORITHMS), curves first', () => {
  expect(DEFAULT_DPOP_ALGORITHMS).toEqual(DEFAULT_ALGS);
  expect([...DEFAULT_DPOP_ALGORITHMS].sort()).toEqual([...DEFAULT_ALGORITHMS].sort());
});
const ALGS = DEFAULT_ALGS.join(' ');
/** A whole second, so "exactly 300 s" is exact whatever the guard rounds. */
const clock = fakeClock(Math.floor(Date.now() / 1000) * 1000);
const now = (): number => clock.seconds();

/** Options, typed loosely: the configuration-error cases pass values the types refuse. */
const opts = (o: Record<string, unknown>): Options => o as unknown as Options;

interface Served {
  url: string;
  resource: string;
  metadataUrl: string;
  t: TestApp;
  events: GuardEvent[];
  /** Tokens for this resource (audience), minted at the fake clock's time. */
  sign: (claims?: Record<string, unknown>) => Promise<string>;
  /** A bound token (cnf.jkt of `key`, default the main DPoP key). */
  bound: (key?: DpopKey, claims?: Record<string, unknown>) => Promise<string>;
  /** A valid proof for this server (POST /mcp) unless overridden. */
  proof: (token: string | undefined, over?: Partial<ProofOptions>) => Promise<string>;
  lastDeny: () => Extract<GuardEvent, { type: 'deny' }> | undefined;
}

let as: LoopbackAS;
let asKey: TestKey;
let dk: DpopKey;
let otherDk: DpopKey;
const lives: Listening[] = [];
const guards: McpAuthGuard[] = [];

let allowed: Served;
let required: Served;
let off: Served;

/**
 * Serve a guard (`buildApp`, plus `/admin` needing scope `admin`, `/audit` behind `requireScopes('audit')`
 * and `/api/mcp` through a mounted router) on its own 127.0.0.1 port; `resource` = that URL + /mcp.
 */
async function serve(options: Record<string, unknown>): Promise<Served> {
  let app: Express | undefined;
  const live = await listen((req, res) => app!(req, res));
  lives.push(live);
  const resource = `${live.url}/mcp`;
  const events: GuardEvent[] = [];
  const t = buildApp(opts({ resource, issuer: as.issuer, jwksUri: as.jwksUri, clock, onEvent: (e: GuardEvent) => { events.push(e); }, ...options }), {
    extra: (a, g, handler) => {
      a.post('/admin', g.protect({ scopes: ['admin'] }), handler);
      a.post('/audit', g.protect(), requireScopes('audit'), handler);
      const router = express.Router();
      router.post('/mcp', g.protect(), handler);
      a.use('/api', router);
    },
  });
  guards.push(t.guard);
  app = t.app;
  const sign = tokenBuilder({ issuer: as.issuer, audience: resource, nowSeconds: now });
  return {
    url: live.url,
    resource,
    metadataUrl: `${live.url}/.well-known/oauth-protected-resource/mcp`,
    t,
    events,
    sign: (claims = {}) => sign(asKey, claims),
    bound: (key = dk, claims = {}) => sign(asKey, { cnf: { jkt: key.thumbprint }, ...claims }),
    proof: (token, over = {}) => buildProof({ key: dk, htm: 'POST', htu: resource, nowSeconds: now(), ...(token !== undefined ? { accessToken: token } : {}), ...over }),
    lastDeny: () => events.filter((e): e is Extract<GuardEvent, { type: 'deny' }> => e.type === 'deny').at(-1),
  };
}

/** POST (or GET) with the given Authorization and DPoP headers (a header left out when undefined). */
function send(s: Served, authorization: string | undefined, dpop: string | undefined, { path = '/mcp', method = 'POST', host }: { path?: string; method?: 'POST' | 'GET'; host?: string } = {}): Promise<Response> {
  s.events.length = 0; // (the decision events of this request only: lastDeny() is its own)
  let r = method === 'POST' ? request(s.url).post(path) : request(s.url).get(path);
  if (authorization !== undefined) r = r.set('Authorization', authorization);
  if (dpop !== undefined) r = r.set('DPoP', dpop);
  if (host !== undefined) r = r.set('Host', host);
  return method === 'POST' ? r.send(PING) : r;
}

/** The challenge's error_description as the guard writes it (quotes and backslashes replaced). */
function desc(res: { body: any }): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  const d: unknown = res.body?.error?.data?.error_description;
  return typeof d === 'string' && d !== '' ? `error_description="${d.replace(/"/g, "'").replace(/\\/g, '/')}", ` : '';
}

/** Every DPoP refusal: 401, the whole DPoP challenge, the JSON-RPC body, no nonce, the handler not run. */
function expectRefused(s: Served, res: { status: number; headers: Record<string, unknown>; body: any }, before: number, { error = 'invalid_dpop_proof', reason }: { error?: string; reason?: string } = {}): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect({ status: res.status, calls: s.t.calls() }).toEqual({ status: 401, calls: before });
  expect(res.body).toMatchObject({
    jsonrpc: '2.0',
    id: 1,
    error: { code: -32000, message: 'Unauthorized', data: { code: 'UNAUTHORIZED', error, resource_metadata: s.metadataUrl } },
  });
  expect(res.headers['www-authenticate']).toBe(`DPoP error="${error}", ${desc(res)}resource_metadata="${s.metadataUrl}", algs="${ALGS}"`);
  expect(res.headers['dpop-nonce']).toBeUndefined();
  if (reason !== undefined) {
    expect(s.events.filter((e) => e.type === 'deny')).toHaveLength(1);
    expect(s.lastDeny()?.reason).toBe(reason);
  }
}

function expectAccepted(s: Served, res: Response, before: number): void {
  expect({ status: res.status, calls: s.t.calls(), error: res.body?.error }).toEqual({ status: 200, calls: before + 1, error: undefined });
  expect(res.headers['dpop-nonce']).toBeUndefined();
}

beforeAll(async () => {
  as = await startLoopbackAS();
  asKey = await makeKey('RS256');
  as.keys = [asKey.publicJwk];
  [dk, otherDk] = await Promise.all([makeDpopKey('ES256'), makeDpopKey('ES256')]);
  [allowed, required, off] = await Promise.all([serve({ dpop: 'allowed' }), serve({ dpop: 'required' }), serve({ dpop: 'off' })]);
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await Promise.all(lives.map((l) => l.close()));
  await as.close();
});

describe('a valid DPoP request is accepted', () => {
  test('handler runs; req.auth is the usual AuthInfo with extra.cnf.jkt = the proof key thumbprint; no DPoP-Nonce', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    const res = await send(allowed, `DPoP ${token}`, await allowed.proof(token));
    expectAccepted(allowed, res, before);
    expect(allowed.t.lastAuth()).toMatchObject({ token, clientId: 'client-1', scopes: ['mcp'], extra: { cnf: { jkt: dk.thumbprint } } });
  });

  test("'required' accepts it too", async () => {
    const token = await required.bound();
    const before = required.t.calls();
    expectAccepted(required, await send(required, `DPoP ${token}`, await required.proof(token)), before);
    expect(required.t.lastAuth()).toMatchObject({ extra: { cnf: { jkt: dk.thumbprint } } });
  });

  test('the scheme name is case-insensitive (dpop, DPOP)', async () => {
    for (const scheme of ['dpop', 'DPOP']) {
      const token = await allowed.bound();
      const before = allowed.t.calls();
      expectAccepted(allowed, await send(allowed, `${scheme} ${token}`, await allowed.proof(token)), before);
    }
  });

  test.each(['ES384', 'ES512', 'RS256', 'PS256', 'EdDSA', 'Ed25519'] as const)('a %s proof key (default dpopAlgorithms)', async (alg) => {
    const key = await makeDpopKey(alg);
    const token = await allowed.bound(key);
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { key })), before);
    expect(allowed.t.lastAuth()).toMatchObject({ extra: { cnf: { jkt: key.thumbprint } } });
  });

  test('extra jwk members (kid, use, alg) are not part of the RFC 7638 thumbprint', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { jwkExtra: { kid: 'k1', use: 'sig', alg: 'ES256' } })), before);
  });

  test('a GET proves htm GET', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htm: 'GET' }), { method: 'GET' }), before);
  });

  test('htu is URL-normalised; its query and fragment are ignored; the request query is not part of it', async () => {
    const u = new URL(allowed.resource);
    const variants = [
      `HTTP://127.0.0.1:${u.port}/mcp`,
      `${allowed.resource}?a=1`,
      `${allowed.resource}#frag`,
    ];
    for (const htu of variants) {
      const token = await allowed.bound();
      const before = allowed.t.calls();
      expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htu })), before);
    }
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token), { path: '/mcp?session=x' }), before);
  });

  test('htu is compared with the configured resource origin, not the Host header', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token), { host: 'evil.example' }), before);
    const token2 = await allowed.bound();
    const res = await send(allowed, `DPoP ${token2}`, await allowed.proof(token2, { htu: 'http://evil.example/mcp' }), { host: 'evil.example' });
    expectRefused(allowed, res, before + 1, { reason: 'dpop_proof_invalid' });
  });

  test('behind a mounted router, htu is the full request path (/api/mcp), not the router-relative one', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htu: `${allowed.url}/api/mcp` }), { path: '/api/mcp' }), before);
    const token2 = await allowed.bound();
    expectRefused(allowed, await send(allowed, `DPoP ${token2}`, await allowed.proof(token2), { path: '/api/mcp' }), before + 1, { reason: 'dpop_proof_invalid' });
  });

  test('default ports are normalised (resource without a port, htu with :80)', async () => {
    const t = buildApp(opts({ resource: 'http://127.0.0.1/mcp', issuer: as.issuer, jwksUri: as.jwksUri, clock, dpop: 'allowed' }));
    guards.push(t.guard);
    const token = await tokenBuilder({ issuer: as.issuer, audience: 'http://127.0.0.1/mcp', nowSeconds: now })(asKey, { cnf: { jkt: dk.thumbprint } });
    const proof = await buildProof({ key: dk, htm: 'POST', htu: 'http://127.0.0.1:80/mcp', accessToken: token, nowSeconds: now() });
    const res = await request(t.app).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
    expect({ status: res.status, calls: t.calls() }).toEqual({ status: 200, calls: 1 });
  });

  test('a fractional iat (a NumericDate may be non-integer) inside the window', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { iatOffset: -10.5 })), before);
  });

  test("'off' (as today): a DPoP request header beside an unbound Bearer token changes nothing", async () => {
    const token = await off.sign();
    const before = off.t.calls();
    expectAccepted(off, await send(off, `Bearer ${token}`, await off.proof(token)), before);
  });

  test('iat exactly 300 s in the past or the future is inside the window', async () => {
    for (const iatOffset of [-300, 300]) {
      const token = await allowed.bound();
      const before = allowed.t.calls();
      expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { iatOffset })), before);
    }
  });
});

/** The expected deny reason: dpop_proof_invalid unless named; null when the contract leaves it open. */
type Case = [name: string, make: (s: Served, token: string) => Promise<string>, reason?: string | null];

describe('each proof defect: 401, DPoP challenge with error="invalid_dpop_proof", handler not run', () => {
  const cases: Case[] = [
    ['tampered signature', (s, tok) => s.proof(tok, { tamperSignature: true })],
    ['signed by another key than its jwk', (s, tok) => s.proof(tok, { signWith: otherDk })],
    ['missing jti', (s, tok) => s.proof(tok, { omit: ['jti'] })],
    ['missing htm', (s, tok) => s.proof(tok, { omit: ['htm'] })],
    ['missing htu', (s, tok) => s.proof(tok, { omit: ['htu'] })],
    ['missing iat', (s, tok) => s.proof(tok, { omit: ['iat'] })],
    ['missing ath', (s, tok) => s.proof(tok, { omit: ['ath'] })],
    ['missing jwk', (s, tok) => s.proof(tok, { omit: ['jwk'] })],
    ['missing typ', (s, tok) => s.proof(tok, { omit: ['typ'] })],
    ['typ "jwt"', (s, tok) => s.proof(tok, { typ: 'jwt' })],
    ['typ "at+jwt"', (s, tok) => s.proof(tok, { typ: 'at+jwt' })],
    ['jti not a string', (s, tok) => s.proof(tok, { claims: { jti: 42 } })],
    ['iat not a number', (s, tok) => s.proof(tok, { claims: { iat: String(now()) } })],
    ['htu: another path', (s, tok) => s.proof(tok, { htu: `${s.url}/other` })],
    ['htu: a trailing slash', (s, tok) => s.proof(tok, { htu: `${s.resource}/` })],
    ['htu: https instead of http', (s, tok) => s.proof(tok, { htu: s.resource.replace('http:', 'https:') })],
    ['htu: another port', (s, tok) => s.proof(tok, { htu: s.resource.replace(/:\d+\//, ':1/') })],
    ['htu: another host (localhost)', (s, tok) => s.proof(tok, { htu: s.resource.replace('127.0.0.1', 'localhost') })],
    ['htu: not a URL', (s, tok) => s.proof(tok, { htu: 'mcp' })],
    ['htm GET on a POST', (s, tok) => s.proof(tok, { htm: 'GET' })],
    ['htm "post" (not the method exactly)', (s, tok) => s.proof(tok, { htm: 'post' })],
    ['private key (d) in jwk', (s, tok) => s.proof(tok, { embedPrivateKey: true })],
    ['ath of another token', (s, tok) => s.proof(tok, { athOverride: athOf(`${tok}x`) })],
    ['ath empty', (s, tok) => s.proof(tok, { athOverride: '' })],
    ['ath = the hex digest', (s, tok) => s.proof(tok, { athOverride: createHash('sha256').update(tok).digest('hex') })],
    ['iat 303 s in the past (clockTolerance not added)', (s, tok) => s.proof(tok, { iatOffset: -303 })],
    ['iat 303 s in the future', (s, tok) => s.proof(tok, { iatOffset: 303 })],
    ['iat 301 s in the past', (s, tok) => s.proof(tok, { iatOffset: -301 })],
    ['iat 301 s in the future', (s, tok) => s.proof(tok, { iatOffset: 301 })],
    ['alg none (unsigned)', (s, tok) => s.proof(tok, { unsigned: true })],
    ['alg HS256 (symmetric)', (s, tok) => s.proof(tok, { hs256Secret: new Uint8Array(32).fill(7) })],
    // Its thumbprint differs from cnf.jkt too: dpop_key_mismatch or dpop_proof_invalid, the contract does not order the checks.
    ['jwk of another key type than alg (RSA jwk, ES256)', async (s, tok) => s.proof(tok, { jwkOverride: (await makeDpopKey('RS256')).publicJwk }), null],
    ['malformed: not a JWS', async () => 'not-a-proof'],
    ['malformed: three garbage segments', async () => 'a.b.c'],
    ['malformed: two segments', async (s, tok) => (await s.proof(tok)).split('.').slice(0, 2).join('.')],
    ['malformed: five segments (JWE-shaped)', async () => 'eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d'],
    ['malformed: the header is not JSON', async (s, tok) => `${Buffer.from('{"typ":').toString('base64url')}.${(await s.proof(tok)).split('.').slice(1).join('.')}`],
    ['malformed: two proofs joined by a comma', async (s, tok) => `${await s.proof(tok)}, ${await s.proof(tok)}`],
    ['empty DPoP header', async () => ''],
    ['cnf.jkt mismatch: a valid proof by another key', (s, tok) => s.proof(tok, { key: otherDk }), 'dpop_key_mismatch'],
  ];

  test.each(cases)('%s', async (_name, make, reason = 'dpop_proof_invalid') => {
    const token = await allowed.bound();
    const proof = await make(allowed, token);
    const before = allowed.t.calls();
    const res = await send(allowed, `DPoP ${token}`, proof);
    expectRefused(allowed, res, before, reason === null ? {} : { reason });
  });

  test('a header the guard accepted before (its checks are remembered by its bytes) still needs a signature by its key: the same header signed by another key is refused', async () => {
    const token = await allowed.bound();
    const good = await allowed.proof(token);
    const before = allowed.t.calls();
    expect((await send(allowed, `DPoP ${token}`, good)).status).toBe(200);
    const forged = await allowed.proof(token, { signWith: otherDk });
    expect(forged.split('.')[0]).toBe(good.split('.')[0]);
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, forged), before + 1, { reason: 'dpop_proof_invalid' });
  });

  test('no DPoP header at all', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, undefined), before, { reason: 'dpop_proof_invalid' });
  });

  test("in 'required' mode the same defects are refused the same way", async () => {
    const cases: [Partial<ProofOptions>, string][] = [
      [{ tamperSignature: true }, 'dpop_proof_invalid'], [{ omit: ['ath'] }, 'dpop_proof_invalid'],
      [{ iatOffset: -303 }, 'dpop_proof_invalid'], [{ key: otherDk }, 'dpop_key_mismatch'],
    ];
    for (const [over, reason] of cases) {
      const token = await required.bound();
      const before = required.t.calls();
      expectRefused(required, await send(required, `DPoP ${token}`, await required.proof(token, over)), before, { reason });
    }
  });

  test.each([
    ['identical', true],
    ['different, each valid', false],
  ] as const)('two DPoP header lines (%s): refused', async (_name, identical) => {
    const token = await allowed.bound();
    const p1 = await allowed.proof(token);
    const p2 = identical ? p1 : await allowed.proof(token);
    const before = allowed.t.calls();
    allowed.events.length = 0;
    const res = await rawRequest(`${allowed.resource}`, 'POST', ['Authorization', `DPoP ${token}`, 'DPoP', p1, 'DPoP', p2, 'Content-Type', 'application/json'], JSON.stringify(PING));
    expectRefused(allowed, { status: res.status, headers: res.headers, body: res.json() }, before, { reason: 'dpop_proof_invalid' });
  });

  test('a replayed proof: the first request passes, the same proof again is refused (dpop_proof_replayed)', async () => {
    const token = await allowed.bound();
    const proof = await allowed.proof(token);
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, proof), before);
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, proof), before + 1, { reason: 'dpop_proof_replayed' });
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, proof), before + 1, { reason: 'dpop_proof_replayed' });
  });

  test('replay is per (key, jti): the same jti from another key is accepted; from the same key with another token, refused', async () => {
    const jti = `shared-${Math.random().toString(36).slice(2)}`;
    const t1 = await allowed.bound();
    const t2 = await allowed.bound(otherDk);
    const t3 = await allowed.bound();
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${t1}`, await allowed.proof(t1, { jti })), before);
    expectAccepted(allowed, await send(allowed, `DPoP ${t2}`, await allowed.proof(t2, { jti, key: otherDk })), before + 1);
    expectRefused(allowed, await send(allowed, `DPoP ${t3}`, await allowed.proof(t3, { jti })), before + 2, { reason: 'dpop_proof_replayed' });
  });

  test('a refused proof is not remembered: the same jti in a good proof afterwards is accepted', async () => {
    const jti = `retry-${Math.random().toString(36).slice(2)}`;
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { jti, htm: 'GET' })), before, { reason: 'dpop_proof_invalid' });
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { jti })), before);
  });

  test('two DPoP header lines whose names differ in case (dpop, DPoP) are still two lines: refused', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    allowed.events.length = 0;
    const res = await rawRequest(allowed.resource, 'POST', ['Authorization', `DPoP ${token}`, 'dpop', await allowed.proof(token), 'DPoP', await allowed.proof(token), 'Content-Type', 'application/json'], JSON.stringify(PING));
    expectRefused(allowed, { status: res.status, headers: res.headers, body: res.json() }, before, { reason: 'dpop_proof_invalid' });
  });

  test('a replayed proof is refused even later in the window (clock moved 200 s)', async () => {
    const token = await allowed.bound();
    const proof = await allowed.proof(token);
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, proof), before);
    clock.advance(200_000); // the clock only moves forward in this suite; every token and proof is minted from it
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, proof), before + 1, { reason: 'dpop_proof_replayed' });
  });

  test('a proof made 300 s ahead is remembered for its whole window: replayed 500 s later (iat now 200 s past) it is refused', async () => {
    const token = await allowed.bound(dk, { exp: now() + 3600 });
    const proof = await allowed.proof(token, { iatOffset: 300 });
    const before = allowed.t.calls();
    expectAccepted(allowed, await send(allowed, `DPoP ${token}`, proof), before);
    clock.advance(500_000);
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, proof), before + 1, { reason: 'dpop_proof_replayed' });
  });

  test('the proof is checked before the scopes: a bad proof on a route the token lacks the scope for is 401, not 403', async () => {
    const token = await allowed.bound();
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htu: `${allowed.url}/admin`, tamperSignature: true }), { path: '/admin' }), before, { reason: 'dpop_proof_invalid' });
  });

  test('a valid proof for a token with the wrong audience: 401 invalid_token, DPoP challenge', async () => {
    const token = await allowed.bound(dk, { aud: 'http://127.0.0.1:9/other' });
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token)), before, { error: 'invalid_token', reason: 'audience_mismatch' });
  });

  test('an expired bound token with a valid proof: 401 invalid_token, DPoP challenge', async () => {
    const token = await allowed.bound(dk, { iat: now() - 1000, exp: now() - 100 });
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token)), before, { error: 'invalid_token', reason: 'token_expired' });
  });

  test('the token is checked before the proof: a bad token with a bad proof is invalid_token', async () => {
    const token = await allowed.bound(dk, { aud: 'http://127.0.0.1:9/other' });
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token, { tamperSignature: true })), before, { error: 'invalid_token' });
  });

  test('a token whose signature does not verify, with a valid proof: invalid_token', async () => {
    const good = await allowed.bound();
    const [h, p] = good.split('.');
    const token = `${h}.${p}.${'A'.repeat(342)}`;
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token)), before, { error: 'invalid_token' });
  });
});

describe('dpopProofWindowSeconds and dpopAlgorithms', () => {
  let narrow: Served;
  let es: Served;
  beforeAll(async () => {
    [narrow, es] = await Promise.all([serve({ dpop: 'allowed', dpopProofWindowSeconds: 60 }), serve({ dpop: 'allowed', dpopAlgorithms: ['ES256', 'EdDSA'] })]);
  });

  test('window 60: |now - iat| = 60 accepted, 61 refused (past and future)', async () => {
    for (const iatOffset of [-60, 60]) {
      const token = await narrow.bound();
      const before = narrow.t.calls();
      expectAccepted(narrow, await send(narrow, `DPoP ${token}`, await narrow.proof(token, { iatOffset })), before);
    }
    for (const iatOffset of [-61, 61]) {
      const token = await narrow.bound();
      const before = narrow.t.calls();
      expectRefused(narrow, await send(narrow, `DPoP ${token}`, await narrow.proof(token, { iatOffset })), before, { reason: 'dpop_proof_invalid' });
    }
  });

  test('the window follows the injected clock: a proof made at "now" is refused once the clock is 301 s on', async () => {
    const token = await allowed.bound(dk, { exp: now() + 3600 });
    const proof = await allowed.proof(token);
    clock.advance(301_000);
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, proof), before, { reason: 'dpop_proof_invalid' });
  });

  test('dpopAlgorithms [ES256, EdDSA]: the challenge and metadata list them; an RS256 proof is refused, ES256 accepted', async () => {
    const rsa = await makeDpopKey('RS256');
    const token = await es.bound(rsa);
    const before = es.t.calls();
    const res = await send(es, `DPoP ${token}`, await es.proof(token, { key: rsa }));
    expect({ status: res.status, calls: es.t.calls() }).toEqual({ status: 401, calls: before });
    expect(res.headers['www-authenticate']).toBe(`DPoP error="invalid_dpop_proof", ${desc(res)}resource_metadata="${es.metadataUrl}", algs="ES256 EdDSA"`);
    const ok = await es.bound();
    expectAccepted(es, await send(es, `DPoP ${ok}`, await es.proof(ok)), before);
    const meta = await request(es.url).get('/.well-known/oauth-protected-resource/mcp');
    expect(meta.body.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA']);
  });
});

describe('schemes and modes', () => {
  test("'allowed': a bound token presented as Bearer → 401 invalid_token (token_bound_to_key), Bearer challenge + DPoP algs", async () => {
    const token = await allowed.bound();
    for (const proof of [undefined, await allowed.proof(token)]) {
      const before = allowed.t.calls();
      const res = await send(allowed, `Bearer ${token}`, proof);
      expect({ status: res.status, calls: allowed.t.calls() }).toEqual({ status: 401, calls: before });
      expect(res.body.error.data).toMatchObject({ code: 'UNAUTHORIZED', error: 'invalid_token' });
      expect(res.headers['www-authenticate']).toBe(`Bearer error="invalid_token", ${desc(res)}resource_metadata="${allowed.metadataUrl}", DPoP algs="${ALGS}"`);
      expect(allowed.lastDeny()?.reason).toBe('token_bound_to_key');
    }
  });

  test("'allowed': an unbound token with the DPoP scheme and a valid proof → 401 invalid_token (token_not_bound)", async () => {
    const token = await allowed.sign();
    const before = allowed.t.calls();
    expectRefused(allowed, await send(allowed, `DPoP ${token}`, await allowed.proof(token)), before, { error: 'invalid_token', reason: 'token_not_bound' });
  });

  test("'allowed': an unbound Bearer token passes as today; no credentials → Bearer challenge + DPoP algs", async () => {
    const before = allowed.t.calls();
    const ok = await send(allowed, `Bearer ${await allowed.sign()}`, undefined);
    expect({ status: ok.status, calls: allowed.t.calls() }).toEqual({ status: 200, calls: before + 1 });
    const none = await send(allowed, undefined, undefined);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(`Bearer resource_metadata="${allowed.metadataUrl}", DPoP algs="${ALGS}"`);
    expect(none.body.error.data.error).toBeUndefined();
    expect(allowed.t.calls()).toBe(before + 1);
  });

  test("'allowed': a cnf with another member than jkt is refused (type_not_allowed)", async () => {
    for (const cnf of [{ 'x5t#S256': 'abc' }, { jkt: dk.thumbprint, 'x5t#S256': 'abc' }, { jkt: 42 }]) {
      const token = await allowed.sign({ cnf });
      const before = allowed.t.calls();
      const res = await send(allowed, `DPoP ${token}`, await allowed.proof(token));
      expectRefused(allowed, res, before, { error: 'invalid_token' });
      expect(allowed.lastDeny()?.reason).toBe('type_not_allowed');
    }
  });

  test('guard.verify() refuses a bound token (no proof to check): 401 token_bound_to_key', async () => {
    const err = await allowed.t.guard.verify(await allowed.bound()).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ status: 401, reason: 'token_bound_to_key' });
  });

  test("guard.verify() with 'required' refuses every token: a bearer one is token_not_bound (only DPoP tokens are accepted there), a bound one token_bound_to_key", async () => {
    const bearer = await required.t.guard.verify(await required.sign()).then(() => undefined, (e: unknown) => e);
    expect(bearer).toMatchObject({ status: 401, reason: 'token_not_bound' });
    const bound = await required.t.guard.verify(await required.bound()).then(() => undefined, (e: unknown) => e);
    expect(bound).toMatchObject({ status: 401, reason: 'token_bound_to_key' });
    // ('allowed' lets the bearer token through verify(), as today.)
    await expect(allowed.t.guard.verify(await allowed.sign())).resolves.toMatchObject({ scopes: expect.any(Array) });
  });

  test("'allowed' 403: a Bearer 403 gets nothing appended; the DPoP 403 is the same challenge as DPoP with algs last", async () => {
    const before = allowed.t.calls();
    const bearer = await send(allowed, `Bearer ${await allowed.sign()}`, undefined, { path: '/admin' });
    expect(bearer.status).toBe(403);
    const bearerChallenge = bearer.headers['www-authenticate'] as string;
    expect(bearerChallenge).toMatch(/^Bearer error="insufficient_scope", /);
    expect(bearerChallenge).not.toMatch(/DPoP|algs=/);
    const token = await allowed.bound();
    const res = await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htu: `${allowed.url}/admin` }), { path: '/admin' });
    expect({ status: res.status, calls: allowed.t.calls() }).toEqual({ status: 403, calls: before });
    expect(res.body.error.data).toMatchObject({ code: 'FORBIDDEN', error: 'insufficient_scope' });
    expect(res.headers['www-authenticate']).toBe(`${bearerChallenge.replace(/^Bearer /, 'DPoP ')}, algs="${ALGS}"`);
  });

  test("requireScopes()' 403 for a DPoP request is a DPoP challenge with algs last", async () => {
    const before = allowed.t.calls();
    const bearer = await send(allowed, `Bearer ${await allowed.sign()}`, undefined, { path: '/audit' });
    expect(bearer.status).toBe(403);
    const bearerChallenge = bearer.headers['www-authenticate'] as string;
    expect(bearerChallenge).not.toMatch(/DPoP|algs=/);
    const token = await allowed.bound();
    const res = await send(allowed, `DPoP ${token}`, await allowed.proof(token, { htu: `${allowed.url}/audit` }), { path: '/audit' });
    expect({ status: res.status, calls: allowed.t.calls() }).toEqual({ status: 403, calls: before });
    expect(res.headers['www-authenticate']).toBe(`${bearerChallenge.replace(/^Bearer /, 'DPoP ')}, algs="${ALGS}"`);
  });

  test("'allowed': a malformed DPoP credential is 400 invalid_request with a DPoP challenge", async () => {
    const before = allowed.t.calls();
    const res = await send(allowed, 'DPoP a b', undefined);
    expect({ status: res.status, calls: allowed.t.calls() }).toEqual({ status: 400, calls: before });
    expect(res.body.error.data).toMatchObject({ code: 'INVALID_REQUEST', error: 'invalid_request' });
    expect(res.headers['www-authenticate']).toBe(`DPoP error="invalid_request", ${desc(res)}resource_metadata="${allowed.metadataUrl}", algs="${ALGS}"`);
  });

  test("'allowed': an expired unbound Bearer token → Bearer invalid_token challenge + DPoP algs", async () => {
    const token = await allowed.sign({ iat: now() - 1000, exp: now() - 100 });
    const before = allowed.t.calls();
    const res = await send(allowed, `Bearer ${token}`, undefined);
    expect({ status: res.status, calls: allowed.t.calls() }).toEqual({ status: 401, calls: before });
    expect(res.headers['www-authenticate']).toBe(`Bearer error="invalid_token", ${desc(res)}resource_metadata="${allowed.metadataUrl}", DPoP algs="${ALGS}"`);
  });

  test("'required': an unbound token with the DPoP scheme → 401 invalid_token (token_not_bound), DPoP challenge", async () => {
    const token = await required.sign();
    const before = required.t.calls();
    expectRefused(required, await send(required, `DPoP ${token}`, await required.proof(token)), before, { error: 'invalid_token', reason: 'token_not_bound' });
  });

  test("'off': the DPoP scheme is another scheme: 401 Bearer challenge without error=, handler not run", async () => {
    const token = await off.bound();
    const before = off.t.calls();
    const res = await send(off, `DPoP ${token}`, await off.proof(token));
    expect({ status: res.status, calls: off.t.calls() }).toEqual({ status: 401, calls: before });
    expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${off.metadataUrl}"`);
    expect(res.body.error.data.error).toBeUndefined();
    expect(off.lastDeny()?.reason).toBe('missing_token');
  });

  test("'off': a bound token as Bearer → 401 invalid_token (type_not_allowed), plain Bearer challenge", async () => {
    const token = await off.bound();
    const before = off.t.calls();
    const res = await send(off, `Bearer ${token}`, await off.proof(token));
    expect({ status: res.status, calls: off.t.calls() }).toEqual({ status: 401, calls: before });
    expect(res.headers['www-authenticate']).toBe(`Bearer error="invalid_token", ${desc(res)}resource_metadata="${off.metadataUrl}"`);
    expect(off.lastDeny()?.reason).toBe('type_not_allowed');
  });

  test("'off' (the default, dpop unset): nothing DPoP anywhere", async () => {
    const s = await serve({});
    const none = await send(s, undefined, undefined);
    expect(none.headers['www-authenticate']).toBe(`Bearer resource_metadata="${s.metadataUrl}"`);
    const token = await s.bound();
    const res = await send(s, `DPoP ${token}`, await s.proof(token));
    expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${s.metadataUrl}"`);
    expect(s.t.calls()).toBe(0);
    const meta = await request(s.url).get('/.well-known/oauth-protected-resource/mcp');
    expect(meta.status).toBe(200);
    expect(meta.body).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(meta.body).not.toHaveProperty('dpop_bound_access_tokens_required');
  });

  test("'required': a Bearer token is no credentials: 401, DPoP challenge without error= (missing_token)", async () => {
    const before = required.t.calls();
    for (const token of [await required.sign(), await required.bound()]) {
      const res = await send(required, `Bearer ${token}`, undefined);
      expect({ status: res.status, calls: required.t.calls() }).toEqual({ status: 401, calls: before });
      expect(res.headers['www-authenticate']).toBe(`DPoP resource_metadata="${required.metadataUrl}", algs="${ALGS}"`);
      expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000, data: { code: 'UNAUTHORIZED', resource_metadata: required.metadataUrl } } });
      expect(res.body.error.data.error).toBeUndefined();
      expect(required.lastDeny()?.reason).toBe('missing_token');
    }
    const none = await send(required, undefined, undefined);
    expect(none.headers['www-authenticate']).toBe(`DPoP resource_metadata="${required.metadataUrl}", algs="${ALGS}"`);
  });

  test("'required' with requiredScopes: the DPoP challenge has scope= before resource_metadata, algs last; 'allowed' appends DPoP algs after it", async () => {
    const s = await serve({ dpop: 'required', requiredScopes: ['mcp'] });
    const res = await send(s, undefined, undefined);
    expect(res.headers['www-authenticate']).toBe(`DPoP scope="mcp", resource_metadata="${s.metadataUrl}", algs="${ALGS}"`);
    const a = await serve({ dpop: 'allowed', requiredScopes: ['mcp'] });
    const none = await send(a, undefined, undefined);
    expect(none.headers['www-authenticate']).toBe(`Bearer scope="mcp", resource_metadata="${a.metadataUrl}", DPoP algs="${ALGS}"`);
  });
});

describe('token cache', () => {
  test('a cached bound token: a second request with a fresh proof passes without another JWKS fetch; the proof is still checked', async () => {
    const s = await serve({ dpop: 'allowed' });
    as.resetCounts();
    const token = await s.bound();
    const first = await s.proof(token);
    expectAccepted(s, await send(s, `DPoP ${token}`, first), 0);
    expect(as.counts.jwks).toBe(1);
    expectAccepted(s, await send(s, `DPoP ${token}`, await s.proof(token)), 1);
    expect(as.counts.jwks).toBe(1);
    // A cache hit does not skip the proof: a replay, a bad proof, a Bearer presentation all refused.
    expectRefused(s, await send(s, `DPoP ${token}`, first), 2, { reason: 'dpop_proof_replayed' });
    expectRefused(s, await send(s, `DPoP ${token}`, await s.proof(token, { htm: 'GET' })), 2, { reason: 'dpop_proof_invalid' });
    expectRefused(s, await send(s, `DPoP ${token}`, await s.proof(token, { key: otherDk })), 2, { reason: 'dpop_key_mismatch' });
    expectRefused(s, await send(s, `DPoP ${token}`, undefined), 2);
    const bearer = await send(s, `Bearer ${token}`, undefined);
    expect({ status: bearer.status, calls: s.t.calls() }).toEqual({ status: 401, calls: 2 });
    expect(s.lastDeny()?.reason).toBe('token_bound_to_key');
    expect(as.counts.jwks).toBe(1);
  });

  test('an unbound token cached from a Bearer request is still refused with the DPoP scheme', async () => {
    const s = await serve({ dpop: 'allowed' });
    const token = await s.sign();
    const ok = await send(s, `Bearer ${token}`, undefined);
    expect(ok.status).toBe(200);
    expectRefused(s, await send(s, `DPoP ${token}`, await s.proof(token)), 1, { error: 'invalid_token', reason: 'token_not_bound' });
  });
});

describe('introspection answers bound by cnf.jkt', () => {
  let s: Served;
  const answers = new Map<string, Record<string, unknown>>();
  beforeAll(async () => {
    as.introspect = (req) => ({ headers: { 'content-type': 'application/json' }, body: answers.get(req.token ?? '') ?? { active: false } });
    s = await serve({ dpop: 'allowed', tokenFormat: 'opaque', introspection: { url: as.introspectionUrl, clientId: 'mcp-rs', clientSecret: 's3cret-value' } });
  });
  const answer = (claims: Record<string, unknown>) => ({ active: true, iss: as.issuer, aud: s.resource, client_id: 'client-1', sub: 'user-1', scope: 'mcp', iat: now() - 10, exp: now() + 600, ...claims });

  test('accepted with a valid proof; a fresh proof is served from the cache (one introspection call); a replay refused', async () => {
    const token = `op_${Math.random().toString(36).slice(2)}xyz`;
    answers.set(token, answer({ token_type: 'DPoP', cnf: { jkt: dk.thumbprint } }));
    as.resetCounts();
    const first = await s.proof(token);
    expectAccepted(s, await send(s, `DPoP ${token}`, first), 0);
    expect(s.t.lastAuth()).toMatchObject({ extra: { cnf: { jkt: dk.thumbprint } } });
    expectAccepted(s, await send(s, `DPoP ${token}`, await s.proof(token)), 1);
    expect(as.counts.introspection).toBe(1);
    expectRefused(s, await send(s, `DPoP ${token}`, first), 2, { reason: 'dpop_proof_replayed' });
    expectRefused(s, await send(s, `DPoP ${token}`, await s.proof(token, { athOverride: athOf('other') })), 2, { reason: 'dpop_proof_invalid' });
    const bearer = await send(s, `Bearer ${token}`, undefined);
    expect({ status: bearer.status, calls: s.t.calls() }).toEqual({ status: 401, calls: 2 });
    expect(s.lastDeny()?.reason).toBe('token_bound_to_key');
  });

  test('an answer whose cnf has another member than jkt is refused (type_not_allowed)', async () => {
    const token = `op_${Math.random().toString(36).slice(2)}cnf`;
    answers.set(token, answer({ token_type: 'DPoP', cnf: { jkt: dk.thumbprint, 'x5t#S256': 'abc' } }));
    const before = s.t.calls();
    expectRefused(s, await send(s, `DPoP ${token}`, await s.proof(token)), before, { error: 'invalid_token', reason: 'type_not_allowed' });
  });

  test('token_type DPoP without cnf.jkt is refused', async () => {
    const token = `op_${Math.random().toString(36).slice(2)}abc`;
    answers.set(token, answer({ token_type: 'DPoP' }));
    const before = s.t.calls();
    for (const authz of [`DPoP ${token}`, `Bearer ${token}`]) {
      const res = await send(s, authz, await s.proof(token));
      expect({ status: res.status, calls: s.t.calls(), reason: s.lastDeny()?.reason }).toEqual({ status: 401, calls: before, reason: 'type_not_allowed' });
    }
  });
});

describe('RFC 9728 metadata', () => {
  const get = (s: Served) => request(s.url).get('/.well-known/oauth-protected-resource/mcp');

  test("'allowed': dpop_signing_alg_values_supported = the default algorithms; bound tokens not required", async () => {
    const res = await get(allowed);
    expect(res.status).toBe(200);
    expect(res.body.resource).toBe(allowed.resource);
    expect(res.body.dpop_signing_alg_values_supported).toEqual(DEFAULT_ALGS);
    expect(res.body).not.toHaveProperty('dpop_bound_access_tokens_required');
  });

  test("'required': dpop_bound_access_tokens_required: true", async () => {
    const res = await get(required);
    expect(res.body.dpop_signing_alg_values_supported).toEqual(DEFAULT_ALGS);
    expect(res.body.dpop_bound_access_tokens_required).toBe(true);
  });

  test("'off': neither field", async () => {
    const res = await get(off);
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(res.body).not.toHaveProperty('dpop_bound_access_tokens_required');
  });
});

describe('configuration errors', () => {
  const base = { resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com' };
  const build = (o: Record<string, unknown>) => () => { const g = mcpAuth(opts({ ...base, ...o })); guards.push(g); };

  test.each([
    ['dpop', 'maybe'], ['dpop', true], ['dpop', 'Required'], ['dpop', ''],
    ['dpopAlgorithms', ['none']], ['dpopAlgorithms', ['HS256']], ['dpopAlgorithms', ['ES256', 'HS512']], ['dpopAlgorithms', 'ES256 none'], ['dpopAlgorithms', [42]],
    ['dpopProofWindowSeconds', 0], ['dpopProofWindowSeconds', 301], ['dpopProofWindowSeconds', -1], ['dpopProofWindowSeconds', Number.NaN], ['dpopProofWindowSeconds', '60'], ['dpopProofWindowSeconds', Infinity],
  ])('%s: %p → ConfigError', (name, value) => {
    expect(build({ dpop: 'allowed', [name]: value })).toThrow(ConfigError);
  });

  test('the valid values construct', () => {
    for (const o of [{ dpop: 'off' }, { dpop: 'allowed' }, { dpop: 'required' }, { dpop: 'allowed', dpopProofWindowSeconds: 1 }, { dpop: 'allowed', dpopProofWindowSeconds: 300 }, { dpop: 'required', dpopAlgorithms: ['ES256', 'EdDSA', 'Ed25519', 'PS512'] }]) {
      expect(build(o)).not.toThrow();
    }
  });

  test('fromEnv: the three variables map to the options', () => {
    expect(ENV_VARIABLES).toEqual(expect.arrayContaining(['MCP_AUTH_DPOP', 'MCP_AUTH_DPOP_ALGORITHMS', 'MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS']));
    expect(fromEnv({ MCP_AUTH_DPOP: 'required', MCP_AUTH_DPOP_ALGORITHMS: 'ES256, EdDSA', MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: '60' })).toMatchObject({
      dpop: 'required', dpopAlgorithms: ['ES256', 'EdDSA'], dpopProofWindowSeconds: 60,
    });
  });

  test('fromEnv: MCP_AUTH_DPOP=maybe → ConfigError naming the variable', () => {
    let err: unknown;
    try { fromEnv({ MCP_AUTH_DPOP: 'maybe' }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(/MCP_AUTH_DPOP\b/);
  });

  test.each([
    { MCP_AUTH_DPOP_ALGORITHMS: 'none' },
    { MCP_AUTH_DPOP_ALGORITHMS: 'ES256,HS256' },
    { MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: '0' },
    { MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: '301' },
    { MCP_AUTH_DPOP_PROOF_WINDOW_SECONDS: 'soon' },
  ])('env %p → ConfigError (from fromEnv or mcpAuth)', (env) => {
    expect(() => {
      const g = mcpAuth({ ...fromEnv({ MCP_AUTH_RESOURCE: base.resource, MCP_AUTH_ISSUER: base.issuer, MCP_AUTH_DPOP: 'allowed', ...env }) });
      guards.push(g);
    }).toThrow(ConfigError);
  });
});
