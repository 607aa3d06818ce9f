/**
 * A token without `kid` signed by a key rotated in since the last fetch: the old key of the same
 * type still "fits", its signature check fails, and the key set's refetch-once-per-cooldown rule
 * (as for an unknown kid) lets the new key be picked up on the first such token after the cooldown
 * (README, key-set timing rules). Kid-less junk makes at most one fetch per cooldown and stays 401;
 * while the endpoint fails, such a token is 503 (whose fault it is cannot be told).
 */
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock, type FakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

let as: LoopbackAS;
let oldKey: TestKey;
let newKey: TestKey;
let t: TestApp | undefined;
let clock: FakeClock;

beforeAll(async () => {
  as = await startLoopbackAS();
  [oldKey, newKey] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
});
afterAll(async () => {
  await as.close();
});
afterEach(async () => {
  await t?.guard.close();
  t = undefined;
  as.faults.jwks = 'ok';
});

test('a kid-less token of a rotated-in key passes on its first use after the cooldown (one refetch)', async () => {
  as.keys = [oldKey.publicJwk];
  clock = fakeClock(1_800_000_000_000);
  t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const app = t;
  const post = async (token: string) => request(app.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);

  expect((await post(await sign(oldKey, {}, { kid: undefined }))).status).toBe(200);
  expect(as.counts.jwks).toBe(1);

  // The authorization server rotates: the new key replaces the old one.
  as.keys = [newKey.publicJwk];
  clock.advance(60_000); // well past jwksCooldownSeconds (30 s), well before jwksCacheMaxAgeSeconds (600 s)

  const res = await post(await sign(newKey, {}, { kid: undefined }));
  expect(res.status).toBe(200);
  expect(app.calls()).toBe(2);
  expect(as.counts.jwks).toBe(2);
});

test('kid-less junk (a signature no key verifies) is 401 and makes at most one fetch per cooldown', async () => {
  as.keys = [oldKey.publicJwk];
  clock = fakeClock(1_800_000_000_000);
  const app = t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const before = as.counts.jwks;
  const post = async (token: string) => request(app.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect((await post(await sign(oldKey, {}, { kid: undefined }))).status).toBe(200);
  clock.advance(60_000);
  for (let i = 0; i < 5; i++) {
    const res = await post(await sign(newKey, { jti: `junk-${i}` }, { kid: undefined }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  }
  expect(as.counts.jwks - before).toBe(2); // the first load, then one refetch for the five
  clock.advance(31_000);
  expect((await post(await sign(newKey, { jti: 'junk-late' }, { kid: undefined }))).status).toBe(401);
  expect(as.counts.jwks - before).toBe(3);
  expect(app.calls()).toBe(1);
});

test('a kid-less token no cached key verifies while the key endpoint fails: 503, handler not run', async () => {
  as.keys = [oldKey.publicJwk];
  clock = fakeClock(1_800_000_000_000);
  const app = t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock });
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: clock.seconds });
  const post = async (token: string) => request(app.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect((await post(await sign(oldKey, {}, { kid: undefined }))).status).toBe(200);
  as.keys = [newKey.publicJwk];
  as.faults.jwks = '500';
  clock.advance(60_000);
  const res = await post(await sign(newKey, {}, { kid: undefined }));
  expect(res.status).toBe(503);
  expect(app.calls()).toBe(1);
  // The old key still serves its own tokens meanwhile.
  expect((await post(await sign(oldKey, { jti: 'still-good' }, { kid: undefined }))).status).toBe(200);
});
