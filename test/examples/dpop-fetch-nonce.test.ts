/**
 * `examples/dpop-fetch.ts` against server nonces (RFC 9449 §9), as its doc comment promises: the
 * last `DPoP-Nonce` an origin sent goes in every later proof to it, a 401 `use_dpop_nonce` is
 * answered once more with the nonce it came with (a `Request`'s body included), a body that is a
 * stream or an async iterable is not sent twice (it was read: sent again, it would go empty), no other 401 is sent again, and one origin's nonce never goes to
 * another. Each request reaches a guard with `dpop: 'required', dpopNonceSeconds: 60` over real
 * HTTP on 127.0.0.1; what arrives is recorded before the guard.
 */
import { Readable } from 'node:stream';
import type { Express } from 'express';
import { decodeJwt } from 'jose';
import { dpopFetch } from '../../examples/dpop-fetch.js';
import { makeDpopKey } from '../helpers/dpop.js';
import { dpopSuite, type DpopServed } from '../helpers/dpop-suite.js';

const suite = dpopSuite();
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

/** What arrived (the proof's nonce, the body), and the status given, per request. */
interface Arrival { nonce: unknown; body: unknown }

async function nonceServer(): Promise<{ s: DpopServed; arrivals: Arrival[]; bodies: unknown[] }> {
  const arrivals: Arrival[] = [];
  const bodies: unknown[] = [];
  const s = await suite.serve({ dpop: 'required', dpopNonceSeconds: 60 }, (app: Express, g, handler) => {
    app.use((req, _res, next) => {
      const proof = req.headers.dpop;
      arrivals.push({ nonce: typeof proof === 'string' ? decodeJwt(proof).nonce : undefined, body: req.body });
      next();
    });
    app.post('/mcp', g.protect(), (req, _res, next) => { bodies.push(req.body); next(); }, handler);
  });
  return { s, arrivals, bodies };
}

const keyPair = () => ({ privateKey: suite.key().privateKey, publicJwk: suite.key().publicJwk, alg: 'ES256' });
const post = (f: typeof fetch, url: string): Promise<Response> => f(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });

test('the first request is sent again with the nonce of its 401; later ones carry it; a new one handed out is taken', async () => {
  const { s, arrivals, bodies } = await nonceServer();
  const f = dpopFetch({ ...keyPair(), accessToken: await s.bound() });
  const first = await post(f, s.resource);
  expect(first.status).toBe(200);
  expect(arrivals).toHaveLength(2);
  expect(arrivals[0]!.nonce).toBeUndefined();
  const nonce = arrivals[1]!.nonce;
  expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(bodies).toEqual([JSON.parse(BODY)]);

  expect((await post(f, s.resource)).status).toBe(200);
  expect(arrivals.map((a) => a.nonce)).toEqual([undefined, nonce, nonce]);

  suite.clock.advance(60_000); // the guard's next period: the nonce is last period's, still accepted
  const rotated = await post(f, s.resource);
  expect(rotated.status).toBe(200);
  const fresh = rotated.headers.get('dpop-nonce');
  expect(fresh).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(fresh).not.toBe(nonce);
  expect((await post(f, s.resource)).status).toBe(200);
  expect(arrivals.map((a) => a.nonce)).toEqual([undefined, nonce, nonce, nonce, fresh]);
});

test('a Request with a body is sent again whole', async () => {
  const { s, arrivals, bodies } = await nonceServer();
  const f = dpopFetch({ ...keyPair(), accessToken: await s.bound() });
  const res = await f(new Request(s.resource, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY }));
  expect(res.status).toBe(200);
  expect(arrivals.map((a) => a.body)).toEqual([JSON.parse(BODY), JSON.parse(BODY)]);
  expect(bodies).toEqual([JSON.parse(BODY)]);
});

test('a body that is a stream is not sent twice: the 401 is returned', async () => {
  const { s, arrivals } = await nonceServer();
  const f = dpopFetch({ ...keyPair(), accessToken: await s.bound() });
  const stream = new Blob([BODY]).stream();
  const res = await f(s.resource, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
  expect(arrivals).toHaveLength(1);
  // The nonce it came with is kept: the next request carries it.
  expect((await post(f, s.resource)).status).toBe(200);
  expect(arrivals).toHaveLength(2);
  expect(arrivals[1]!.nonce).toBe(res.headers.get('dpop-nonce'));
});

// (Node's fetch takes any async iterable as a body: read once, like a stream.)
test.each([
  ['a node:stream Readable', () => Readable.from([Buffer.from(BODY)])],
  ['an async generator', () => (async function* () { yield new TextEncoder().encode(BODY); })()],
])('a body that is %s is not sent twice: the 401 use_dpop_nonce is returned (neither a TypeError nor an empty body sent again)', async (_label, body) => {
  const { s, arrivals } = await nonceServer();
  const f = dpopFetch({ ...keyPair(), accessToken: await s.bound() });
  const res = await f(s.resource, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(), duplex: 'half' } as unknown as RequestInit);
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
  expect(s.calls()).toBe(0);
  expect(arrivals).toHaveLength(1);
});

test('another 401 (a proof by the wrong key), which carries a nonce too, is not sent again', async () => {
  const { s, arrivals } = await nonceServer();
  const other = await makeDpopKey('ES256');
  const f = dpopFetch({ privateKey: other.privateKey, publicJwk: other.publicJwk, alg: 'ES256', accessToken: await s.bound() });
  const res = await post(f, s.resource);
  // (The key is checked before the nonce.)
  expect({ status: res.status, nonce: res.headers.get('dpop-nonce') }).toEqual({ status: 401, nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
  expect(arrivals).toHaveLength(1);
});

test('one origin\'s nonce is not sent to another', async () => {
  const a = await nonceServer();
  const b = await nonceServer();
  const f = dpopFetch({ ...keyPair(), accessToken: await a.s.bound() });
  expect((await post(f, a.s.resource)).status).toBe(200);
  expect(a.arrivals.map((x) => x.nonce)).toEqual([undefined, expect.any(String)]);
  // (b refuses a's token for its audience, 401 invalid_token: not sent again.)
  expect((await post(f, b.s.resource)).status).toBe(401);
  expect(b.arrivals.map((x) => x.nonce)).toEqual([undefined]);
});
