/**
 * Uncached signatures are checked together once per event-loop turn (lib/verify/jwt.ts): many
 * verifications started in one turn, valid and invalid mixed, each get their own right answer,
 * and a verification started in a later turn is not held back by an earlier batch.
 */
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { McpAuthError } from '../../lib/errors.js';
import { DEFAULT_ALGORITHMS, resolveOptions } from '../../lib/options.js';
import { RemoteKeySet } from '../../lib/verify/jwks.js';
import { jwtVerifier } from '../../lib/verify/jwt.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';

const NOW = 1_800_000_000;
const RESOURCE = 'https://mcp.example.com/mcp';
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

let as: LoopbackAS;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

function token(alg: 'RS256' | 'ES256', claims: Record<string, unknown>): string {
  const input = `${b64({ alg, kid: alg, typ: 'at+jwt' })}.${b64({ iss: as.issuer, aud: RESOURCE, iat: NOW, exp: NOW + 600, scope: 'mcp', ...claims })}`;
  const sig = alg === 'RS256'
    ? sign('sha256', Buffer.from(input), { key: rsa.privateKey, padding: constants.RSA_PKCS1_PADDING })
    : sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

let keys: RemoteKeySet;
let verify: (t: string) => Promise<unknown>;

beforeAll(async () => {
  as = await startLoopbackAS();
  as.keys = [
    { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'RS256', alg: 'RS256', use: 'sig' },
    { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ES256', alg: 'ES256', use: 'sig' },
  ];
  const config = resolveOptions({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, clock: () => NOW * 1000 });
  keys = new RemoteKeySet(async () => as.jwksUri, { algorithms: DEFAULT_ALGORITHMS, timeoutMs: 2000, cooldownMs: 30_000, maxAgeMs: 600_000, maxStaleMs: 3_600_000, maxBytes: 262_144, clock: () => NOW * 1000, emit: undefined, issuer: as.issuer });
  await keys.ready();
  verify = jwtVerifier(config, keys);
});

afterAll(async () => {
  keys.close();
  await as.close();
});

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const { payload } = (await p) as { payload: { sub?: string } };
    return `ok:${payload.sub}`;
  } catch (err) {
    return err instanceof McpAuthError ? `fail:${err.reason}` : 'fail:other';
  }
}

test('a burst of mixed tokens started in one turn: every verification gets its own answer', async () => {
  const cases: { t: string; expect: string }[] = [];
  for (let i = 0; i < 40; i++) {
    const alg = i % 2 ? 'RS256' : 'ES256';
    if (i % 5 === 0) cases.push({ t: token(alg, { sub: `u${i}`, aud: 'https://other.example' }), expect: 'fail:audience_mismatch' });
    else if (i % 7 === 0) cases.push({ t: `${token(alg, { sub: `u${i}` }).slice(0, -4)}AAAA`, expect: 'fail:signature_invalid' });
    else if (i % 11 === 0) cases.push({ t: token(alg, { sub: `u${i}`, exp: NOW - 60 }), expect: 'fail:token_expired' });
    else cases.push({ t: token(alg, { sub: `u${i}` }), expect: `ok:u${i}` });
  }
  const results = await Promise.all(cases.map((c) => outcome(verify(c.t))));
  expect(results).toEqual(cases.map((c) => c.expect));
  // Sequentially, the same answers.
  for (const c of cases.slice(0, 12)) expect(await outcome(verify(c.t))).toBe(c.expect);
});

test('a verification is answered within a few loop turns, and a later one is not held back', async () => {
  const first = verify(token('ES256', { sub: 'a' }));
  await first;
  let immediates = 0;
  let stop = false;
  const tick = (): void => { immediates++; if (!stop && immediates < 1000) setImmediate(tick); };
  setImmediate(tick);
  await expect(outcome(verify(token('RS256', { sub: 'b' })))).resolves.toBe('ok:b');
  stop = true;
  expect(immediates).toBeLessThan(5);
});

test('an application\'s fake timers (they patch the global setImmediate) do not stall a verification', async () => {
  const { jest } = await import('@jest/globals');
  jest.useFakeTimers();
  try {
    // With the global faked and never advanced, a verification that deferred through it would hang.
    await expect(outcome(verify(token('RS256', { sub: 'fake-timers' })))).resolves.toBe('ok:fake-timers');
  } finally {
    jest.useRealTimers();
  }
});
