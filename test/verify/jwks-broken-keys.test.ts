/**
 * Keys with which anyone can forge a signature, without any private key, are left out of the set
 * (README, "Usable keys only": weak or broken keys are left out):
 * - RSA with public exponent e = 1: s^1 mod n = s, so the PKCS#1 v1.5 encoding of the hash IS a
 *   valid signature of any message.
 * - Ed25519 with a small-order point (the identity, encoded 01 00…00): [S]B = R + [k]A = R, so
 *   R = identity, S = 0 verifies every message (OpenSSL and WebCrypto accept it).
 * - RSA published with its private CRT members (p, q, dp, dq, qi) but without d: anyone reading
 *   the JWKS computes d = e^-1 mod (p-1)(q-1) and signs.
 * A token "signed" for their kid is refused (401, handler not run), and a set of only such keys is
 * no usable key set (503).
 */
import { createHash, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import type { JWK } from 'jose';
import request from 'supertest';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const NOW = 1_800_000_000;
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

let as: LoopbackAS;
let good: TestKey;
const open: TestApp[] = [];
let e1Jwk: JWK;
let edIdentityJwk: JWK;
let crtJwk: JWK;

beforeAll(async () => {
  as = await startLoopbackAS();
  good = await makeKey('RS256');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  e1Jwk = { ...rsa, e: 'AQ', kid: 'rsa-e1', alg: 'RS256', use: 'sig' } as JWK;
  const identity = Buffer.alloc(32);
  identity[0] = 1;
  const { d: _d, ...withoutD } = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  crtJwk = { ...withoutD, kid: 'rsa-crt', alg: 'RS256', use: 'sig' } as JWK;
  edIdentityJwk = { kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url'), kid: 'ed-identity', alg: 'EdDSA', use: 'sig' };
});
afterEach(async () => { await Promise.all(open.splice(0).map((t) => t.guard.close())); });
afterAll(() => as.close());

function app(): TestApp {
  const t = buildApp({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock: fakeClock(NOW * 1000) });
  open.push(t);
  return t;
}

function claims(): Record<string, unknown> {
  return { iss: as.issuer, aud: RESOURCE, sub: 'attacker', client_id: 'attacker', scope: 'mcp admin', iat: NOW, exp: NOW + 600, jti: 'forged' };
}

/** RS256 "signature" for an e = 1 key: the EMSA-PKCS1-v1_5 encoding of the hash itself. */
function forgeE1(): string {
  const input = `${b64({ alg: 'RS256', kid: 'rsa-e1', typ: 'at+jwt' })}.${b64(claims())}`;
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(input).digest()]);
  const em = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
  return `${input}.${em.toString('base64url')}`;
}

/** EdDSA "signature" for the identity public key: R = identity, S = 0. */
function forgeEdIdentity(): string {
  const input = `${b64({ alg: 'EdDSA', kid: 'ed-identity', typ: 'at+jwt' })}.${b64(claims())}`;
  const r = Buffer.alloc(32);
  r[0] = 1;
  return `${input}.${Buffer.concat([r, Buffer.alloc(32)]).toString('base64url')}`;
}

const big = (v: string): bigint => BigInt(`0x${Buffer.from(v, 'base64url').toString('hex') || '0'}`);
function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) { const q = r0 / r1; [r0, r1] = [r1, r0 - q * r1]; [s0, s1] = [s1, s0 - q * s1]; }
  return ((s0 % m) + m) % m;
}
/** What anyone can do with the published JWK: rebuild d from p and q, then sign. */
function forgeFromCrt(): string {
  const p = big(crtJwk.p!); const q = big(crtJwk.q!); const e = big(crtJwk.e!);
  let hex = modInverse(e, (p - 1n) * (q - 1n)).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const privateKey = createPrivateKey({ key: { ...(crtJwk as Record<string, string>), d: Buffer.from(hex, 'hex').toString('base64url') }, format: 'jwk' });
  const input = `${b64({ alg: 'RS256', kid: 'rsa-crt', typ: 'at+jwt' })}.${b64(claims())}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

async function post(t: TestApp, token: string): Promise<request.Response> {
  return request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
}

test('control: a token signed by the good key of the same set passes', async () => {
  as.keys = [good.publicJwk, e1Jwk, edIdentityJwk, crtJwk];
  const t = app();
  const token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE, nowSeconds: () => NOW })(good);
  expect((await post(t, token)).status).toBe(200);
});

test.each([
  ['RSA with public exponent 1', () => forgeE1()],
  ['Ed25519 identity (small-order) public key', () => forgeEdIdentity()],
  ['RSA published with p, q (CRT members) but no d', () => forgeFromCrt()],
])('%s: a forged token (no private key involved) is refused, handler not run', async (_name, forge) => {
  as.keys = [good.publicJwk, e1Jwk, edIdentityJwk, crtJwk];
  const t = app();
  const res = await post(t, forge());
  expect(res.status).toBe(401);
  expect(t.calls()).toBe(0);
});

test('a set holding only such keys is no usable key set: 503, not an open door', async () => {
  as.keys = [e1Jwk, edIdentityJwk, crtJwk];
  const t = app();
  const res = await post(t, forgeE1());
  expect(res.status).toBe(503);
  expect(t.calls()).toBe(0);
});
