/**
 * One token, one spelling of its signature:
 * - RSASSA-PSS signatures (PS256/384/512) must be exactly k octets long, k the modulus length in
 *   octets (RFC 8017 §8.1.2 step 1, which RFC 7518 §3.5 uses: "If the length of the signature S is
 *   not k octets, output 'invalid signature'"). OpenSSL's PSS verification (node:crypto and
 *   WebCrypto alike, so `jose` too) takes a shorter one as the same big-endian integer: about 1
 *   PS256 token in 256 (those whose signature begins with a zero byte) would have a second spelling.
 * - The signature segment must be canonical base64url (RFC 4648 §3.5: the unused bits of the last
 *   character zero); `jose` and Buffer ignore them, which gives every RS256/ES256 token 16 spellings.
 * Each spelling would be a cache entry of its own and a way around a list of refused tokens.
 */
import request from 'supertest';
import { McpAuthError, type McpAuthGuard } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';
import { jwtVerify, createLocalJWKSet } from 'jose';
import { resolveOptions } from '../../lib/options.js';
import { RemoteKeySet } from '../../lib/verify/jwks.js';
import { jwtVerifier } from '../../lib/verify/jwt.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
let as: LoopbackAS;
let ps: TestKey;
let t: TestApp;

beforeAll(async () => {
  as = await startLoopbackAS();
  ps = await makeKey('PS256');
  as.keys = [ps.publicJwk];
  t = buildApp({ resource: RESOURCE, issuer: as.issuer });
  await t.guard.ready();
});
afterAll(async () => {
  await t.guard.close();
  await as.close();
});

/** A valid PS256 token whose 256-byte signature begins with 0x00, and the same with that byte removed. */
async function zeroLedToken(): Promise<{ valid: string; short: string }> {
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  for (let i = 0; i < 5000; i++) {
    const token = await sign(ps, { jti: `j${i}` });
    const [h, p, s] = token.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    if (sig.length === 256 && sig[0] === 0) return { valid: token, short: `${h}.${p}.${sig.subarray(1).toString('base64url')}` };
  }
  throw new Error('no zero-led signature found');
}

async function reasonOf(guard: McpAuthGuard, token: string): Promise<string> {
  try {
    await guard.verify(token);
    return 'accepted';
  } catch (err) {
    return err instanceof McpAuthError ? err.reason : String(err);
  }
}

test('a PS256 signature one octet shorter than the modulus is refused (RFC 8017 §8.1.2 step 1)', async () => {
  const { valid, short } = await zeroLedToken();
  // Control: the conforming token passes.
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${valid}`).send(PING)).status).toBe(200);
  const before = t.calls();
  // A fresh guard (no cache) for the non-conforming spelling.
  const g = buildApp({ resource: RESOURCE, issuer: as.issuer });
  try {
    const res = await request(g.app).post('/mcp').set('Authorization', `Bearer ${short}`).send(PING);
    expect({ status: res.status, challenge: res.headers['www-authenticate'] }).toEqual({ status: 401, challenge: expect.stringContaining('error="invalid_token"') });
    expect(g.calls()).toBe(0);
    expect(await reasonOf(g.guard, short)).toBe('signature_invalid');
  } finally {
    await g.guard.close();
  }
  expect(t.calls()).toBe(before);
}, 60_000);

test('both signature paths (node:crypto and jose.jwtVerify) refuse it', async () => {
  const { short } = await zeroLedToken();
  const config = resolveOptions({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri });
  for (const native of [true, false]) {
    const keys = new RemoteKeySet(async () => as.jwksUri, {
      algorithms: config.algorithms, timeoutMs: 2000, cooldownMs: 30_000, maxAgeMs: 600_000, maxStaleMs: 3_600_000, maxBytes: 262_144, clock: () => Date.now(), emit: undefined, issuer: config.issuer,
    });
    try {
      let reason = 'accepted';
      try {
        await jwtVerifier(config, keys, { native })(short);
      } catch (err) {
        reason = err instanceof McpAuthError ? err.reason : String(err);
      }
      expect({ native, reason }).toEqual({ native, reason: 'signature_invalid' });
    } finally {
      keys.close();
    }
  }
}, 60_000);

test.each(['RS256', 'ES256'] as const)('%s: the same signature with unused low bits set in its last character is refused (jose accepts it)', async (alg) => {
  const key = await makeKey(alg);
  as.keys = [ps.publicJwk, key.publicJwk];
  const g = buildApp({ resource: RESOURCE, issuer: as.issuer });
  try {
    const valid = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key, {});
    const [h, p, s] = valid.split('.') as [string, string, string];
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = ALPHABET.indexOf(s[s.length - 1]!);
    const twin = `${h}.${p}.${s.slice(0, -1)}${ALPHABET[last ^ 1]}`;
    // The same bytes: jose (and Buffer) accept the twin.
    expect(Buffer.from(twin.split('.')[2]!, 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    await expect(jwtVerify(twin, createLocalJWKSet({ keys: [key.publicJwk] }), { issuer: as.issuer, audience: RESOURCE })).resolves.toBeDefined();
    const res = await request(g.app).post('/mcp').set('Authorization', `Bearer ${twin}`).send(PING);
    expect(res.status).toBe(401);
    expect(g.calls()).toBe(0);
    expect(await reasonOf(g.guard, twin)).toBe('signature_invalid');
    expect((await request(g.app).post('/mcp').set('Authorization', `Bearer ${valid}`).send(PING)).status).toBe(200);
  } finally {
    as.keys = [ps.publicJwk];
    await g.guard.close();
  }
});
