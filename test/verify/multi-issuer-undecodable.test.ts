/**
 * Several issuers: a JWS whose payload is not a claims set names no issuer, so it gets 401
 * `issuer_mismatch` before any issuer is asked for metadata or keys, and 401 (not 503) while the
 * first issuer is down.
 */
import request from 'supertest';
import { type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { makeKey } from '../helpers/keys.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let a: LoopbackAS;
let b: LoopbackAS;
const open: TestApp[] = [];
const b64 = (s: string) => Buffer.from(s).toString('base64url');

beforeAll(async () => {
  [a, b] = await Promise.all([startLoopbackAS(), startLoopbackAS()]);
  const [ka, kb] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
  a.keys = [ka.publicJwk];
  b.keys = [kb.publicJwk];
});
afterAll(async () => {
  for (const t of open) await t.guard.close();
  await a.close();
  await b.close();
});
beforeEach(() => { a.resetCounts(); b.resetCounts(); a.faults.discovery = 'ok'; a.faults.jwks = 'ok'; });

function app(extra: Partial<Options> = {}): TestApp {
  const t = buildApp({ resource: RESOURCE, issuer: [a.issuer, b.issuer], httpTimeoutSeconds: 2, ...extra });
  open.push(t);
  return t;
}
const post = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

// Header fine (alg allowed, a kid), payload not a claims set: "null", "[]", a JSON string, not JSON.
const header = b64(JSON.stringify({ alg: 'RS256', kid: 'attacker-kid', typ: 'at+jwt' }));
const junk = ['null', '[]', '"x"', 'not json'].map((p) => `${header}.${b64(p)}.${b64('sig')}`);

test('a payload that is not a claims set (no iss) is refused with 401 before any issuer is asked', async () => {
  const t = app();
  for (const token of junk) {
    const res = await post(t, token);
    expect(res.status).toBe(401);
  }
  expect({ aDiscovery: a.counts.discovery, aJwks: a.counts.jwks, bDiscovery: b.counts.discovery, bJwks: b.counts.jwks })
    .toEqual({ aDiscovery: 0, aJwks: 0, bDiscovery: 0, bJwks: 0 });
  expect(t.calls()).toBe(0);
});

test('such a token gets 401, not 503, while the first issuer is down', async () => {
  const t = app();
  a.faults.discovery = '500';
  const res = await post(t, junk[0]!);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
});
