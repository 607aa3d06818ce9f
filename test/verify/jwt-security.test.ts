/**
 * The security battery: hostile tokens and requests against a guard in front of a counting
 * handler, over real HTTP. Each case asserts the status, the wire code, the `reason` (through
 * `guard.verify`, the same verifier) and that the handler did not run.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import request from 'supertest';
import { mcpAuth, McpAuthError, type McpAuthGuard } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { listen, rawRequest, type Listening } from '../helpers/http.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { signCompact, signHmac, unsigned } from '../helpers/raw-jws.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

let as: LoopbackAS;
let attacker: LoopbackAS;
let rsa: TestKey;
let es: TestKey;
let evil: TestKey;
let evilEs: TestKey;
let sign: ReturnType<typeof tokenBuilder>;
let t: TestApp;
let live: Listening;
const guards: McpAuthGuard[] = [];

const now = () => Math.floor(Date.now() / 1000);
function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const c: Record<string, unknown> = { iss: as.issuer, aud: RESOURCE, sub: 'user-1', client_id: 'client-1', scope: 'mcp', iat: now(), exp: now() + 600, jti: 'j1', ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

beforeAll(async () => {
  as = await startLoopbackAS();
  attacker = await startLoopbackAS();
  [rsa, es, evil, evilEs] = await Promise.all([makeKey('RS256'), makeKey('ES256'), makeKey('RS256'), makeKey('ES256')]);
  as.keys = [rsa.publicJwk, es.publicJwk];
  attacker.keys = [evil.publicJwk];
  sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  t = buildApp({ resource: RESOURCE, issuer: as.issuer });
  guards.push(t.guard);
  await t.guard.ready();
  live = await listen(t.app);
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await live.close();
  await as.close();
  await attacker.close();
});

async function reasonOf(guard: McpAuthGuard, token: string): Promise<string> {
  try {
    await guard.verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(McpAuthError);
    return (err as McpAuthError).reason;
  }
  return 'accepted';
}

/** Refused over HTTP with `status`, handler not run, and `guard.verify` gives `reason`. */
async function expectRefused(token: string, reason: string, app: TestApp = t, status = 401): Promise<void> {
  const before = app.calls();
  const res = await request(app.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect({ status: res.status, code: res.body?.error?.data?.code }).toEqual({ status, code: status === 401 ? 'UNAUTHORIZED' : 'AUTH_UNAVAILABLE' });
  expect(app.calls()).toBe(before);
  expect(await reasonOf(app.guard, token)).toBe(reason);
}

async function expectAccepted(token: string, app: TestApp = t): Promise<void> {
  const before = app.calls();
  const res = await request(app.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(200);
  expect(app.calls()).toBe(before + 1);
}

describe('algorithms', () => {
  test('control: a well-formed RS256 and ES256 token pass', async () => {
    await expectAccepted(await sign(rsa));
    await expectAccepted(await sign(es));
  });

  test.each(['none', 'None', 'NONE', 'nOnE'])('alg %s, without and with a signature part', async (alg) => {
    await expectRefused(unsigned({ alg, typ: 'at+jwt' }, claims()), 'malformed_token');
    await expectRefused(unsigned({ alg, typ: 'at+jwt' }, claims(), 'AAAA'), 'algorithm_not_allowed');
  });

  test('HS256 signed with the RSA public key (PEM, DER and JWK forms as the secret)', async () => {
    const pub = createPublicKey(KeyObject.from(rsa.privateKey));
    const secrets = [
      pub.export({ type: 'spki', format: 'pem' }) as string,
      pub.export({ type: 'pkcs1', format: 'pem' }) as string,
      pub.export({ type: 'spki', format: 'der' }) as Buffer,
      JSON.stringify(rsa.publicJwk),
      Buffer.from(rsa.publicJwk.n!, 'base64url'),
    ];
    for (const secret of secrets) {
      await expectRefused(signHmac(secret, { alg: 'HS256', kid: rsa.kid, typ: 'at+jwt' }, claims()), 'algorithm_not_allowed');
    }
  });

  test('an algorithm outside a narrowed allowlist (ES256 only: RS256 and PS256 refused)', async () => {
    const narrow = buildApp({ resource: RESOURCE, issuer: as.issuer, algorithms: ['ES256'] });
    guards.push(narrow.guard);
    await expectAccepted(await sign(es), narrow);
    await expectRefused(await sign(rsa), 'algorithm_not_allowed', narrow);
    const ps = { ...rsa, alg: 'PS256' };
    await expectRefused(signCompact(ps, { alg: 'PS256', kid: rsa.kid, typ: 'at+jwt' }, claims()), 'algorithm_not_allowed', narrow);
  });

  test('alg and key type mismatch: RS256 header naming the EC key id', async () => {
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: es.kid, typ: 'at+jwt' }, claims()), 'key_not_found');
  });
});

describe('keys named by the token are never used', () => {
  test('embedded jwk header (attacker key, with and without the real kid, and with no kid)', async () => {
    await expectRefused(signCompact(evil, { alg: 'RS256', jwk: evil.publicJwk, kid: evil.kid, typ: 'at+jwt' }, claims()), 'key_not_found');
    await expectRefused(signCompact(evil, { alg: 'RS256', jwk: evil.publicJwk, kid: rsa.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
    await expectRefused(signCompact(evil, { alg: 'RS256', jwk: { ...evil.publicJwk, kid: undefined }, typ: 'at+jwt' }, claims()), 'signature_invalid');
  });

  test('an EC key of the attacker under the real EC kid (embedded jwk or not): the signature fails', async () => {
    await expectRefused(signCompact(evilEs, { alg: 'ES256', kid: es.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
    await expectRefused(signCompact(evilEs, { alg: 'ES256', jwk: evilEs.publicJwk, kid: es.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
  });

  test('jku / x5u pointing at a second loopback server: it sees zero requests', async () => {
    attacker.resetCounts();
    const jku = attacker.jwksUri;
    await expectRefused(signCompact(evil, { alg: 'RS256', jku, kid: evil.kid, typ: 'at+jwt' }, claims()), 'key_not_found');
    await expectRefused(signCompact(evil, { alg: 'RS256', jku, kid: rsa.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
    await expectRefused(signCompact(evil, { alg: 'RS256', x5u: jku, kid: rsa.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
    await expectRefused(signCompact(evil, { alg: 'RS256', x5c: ['MIIB'], kid: rsa.kid, typ: 'at+jwt' }, claims()), 'signature_invalid');
    expect(attacker.log).toEqual([]);
  });

  test('hostile kids: very long, path traversal, prototype names, non-string', async () => {
    const kids: unknown[] = ['k'.repeat(5000), '../../../../etc/passwd', '..%2f..%2fjwks', '__proto__', 'constructor', 'a\r\nX-Injected: 1'];
    for (const kid of kids) await expectRefused(signCompact(rsa, { alg: 'RS256', kid, typ: 'at+jwt' }, claims()), 'key_not_found');
    for (const kid of [123, { $ne: null }, ['a'], null, true]) {
      await expectRefused(signCompact(rsa, { alg: 'RS256', kid, typ: 'at+jwt' }, claims()), 'malformed_token');
    }
  });

  test('ES256 signature of zeros (and of a wrong length)', async () => {
    const good = await sign(es);
    const [h, p] = good.split('.');
    await expectRefused(`${h}.${p}.${Buffer.alloc(64).toString('base64url')}`, 'signature_invalid');
    await expectRefused(`${h}.${p}.${Buffer.alloc(63).toString('base64url')}`, 'signature_invalid');
    await expectRefused(`${h}.${p}.${Buffer.alloc(72).toString('base64url')}`, 'signature_invalid');
  });

  test('the payload swapped under a valid signature', async () => {
    const [h, , s] = (await sign(rsa)).split('.');
    const p = Buffer.from(JSON.stringify(claims({ scope: 'admin' }))).toString('base64url');
    await expectRefused(`${h}.${p}.${s}`, 'signature_invalid');
  });
});

describe('token forms', () => {
  test('crit (even a well-signed one)', async () => {
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid, typ: 'at+jwt', crit: ['exp'], exp: 1 }, claims()), 'malformed_token');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid, typ: 'at+jwt', crit: [] }, claims()), 'malformed_token');
  });

  test('a JWE (5 parts)', async () => {
    const jwe = ['eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ', 'a2V5', 'aXY', 'Y2lwaGVy', 'dGFn'].join('.');
    await expectRefused(jwe, 'unsupported_token_type');
  });

  test('garbage in the segments: bad base64, non-JSON header, array payload', async () => {
    await expectRefused('a.b.c', 'malformed_token');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid }, '[1,2,3]'), 'malformed_token');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid }, 'not json'), 'malformed_token');
  });
});

describe('time claims', () => {
  test('no exp', async () => {
    await expectRefused(await sign(rsa, { exp: undefined }), 'claim_invalid');
  });

  test('exp of 1e400 (Infinity after JSON.parse), hand-made payload JSON', async () => {
    const json = JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400');
    expect(json).toContain('1e400');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid, typ: 'at+jwt' }, json), 'claim_invalid');
    const nbf = JSON.stringify(claims({ nbf: 0 })).replace('"nbf":0', '"nbf":-1e400');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid, typ: 'at+jwt' }, nbf), 'claim_invalid');
  });

  test('exp as a string, null, or an object', async () => {
    await expectRefused(await sign(rsa, { exp: String(now() + 600) }), 'claim_invalid');
    await expectRefused(await sign(rsa, { exp: null }), 'claim_invalid');
    await expectRefused(await sign(rsa, { exp: { n: now() + 600 } }), 'claim_invalid');
  });

  test('expired beyond the tolerance; inside the tolerance passes', async () => {
    await expectRefused(await sign(rsa, { exp: now() - 10 }), 'token_expired');
    await expectAccepted(await sign(rsa, { exp: now() - 2 }));
  });

  test('future nbf; iat in the future', async () => {
    await expectRefused(await sign(rsa, { nbf: now() + 120 }), 'token_not_yet_valid');
    await expectRefused(await sign(rsa, { iat: now() + 120 }), 'token_not_yet_valid');
  });
});

describe('issuer and audience', () => {
  test('issuer with a trailing slash, different case, missing, or not a string', async () => {
    await expectRefused(await sign(rsa, { iss: `${as.issuer}/` }), 'issuer_mismatch');
    await expectRefused(await sign(rsa, { iss: as.issuer.toUpperCase() }), 'issuer_mismatch');
    await expectRefused(await sign(rsa, { iss: as.issuer.replace('127.0.0.1', 'localhost') }), 'issuer_mismatch');
    await expectRefused(await sign(rsa, { iss: undefined }), 'issuer_mismatch');
    await expectRefused(await sign(rsa, { iss: 5 }), 'issuer_mismatch');
  });

  test('audiences: prefix, suffix, trailing slash, case, array without us, missing, the client id, a number', async () => {
    const bad: unknown[] = [
      'http://127.0.0.1:9/mc', 'http://127.0.0.1:9/mcpx', `${RESOURCE}/`, RESOURCE.toUpperCase(), 'http://127.0.0.1:9',
      ['http://127.0.0.1:9/other', 'client-1'], [], 'client-1', 5, { aud: RESOURCE }, [[RESOURCE]],
    ];
    for (const aud of bad) await expectRefused(await sign(rsa, { aud }), 'audience_mismatch');
    await expectRefused(await sign(rsa, { aud: undefined }), 'audience_mismatch');
    await expectAccepted(await sign(rsa, { aud: ['http://127.0.0.1:9/other', RESOURCE] }));
  });

  test('a configured audience replaces the resource', async () => {
    const g = buildApp({ resource: RESOURCE, issuer: as.issuer, audience: ['api://mcp'] });
    guards.push(g.guard);
    await expectAccepted(await sign(rsa, { aud: 'api://mcp' }), g);
    await expectRefused(await sign(rsa, { aud: RESOURCE }), 'audience_mismatch', g);
  });
});

describe('claims of the wrong type are 401, never 500', () => {
  test.each<[string, Record<string, unknown>]>([
    ['scope: {}', { scope: {} }],
    ['scope: 5', { scope: 5 }],
    ['scope: [1]', { scope: [1] }],
    ['scp: {}', { scope: undefined, scp: { a: 1 } }],
    ['scp: [null]', { scope: undefined, scp: [null] }],
  ])('%s', async (_n, over) => {
    await expectRefused(await sign(rsa, over), 'claim_invalid');
  });

  test('client_id of the wrong type is ignored (clientId falls back), sub of the wrong type is refused by strict only', async () => {
    const info = await t.guard.verify(await sign(rsa, { client_id: 5, azp: 'azp-client' }));
    expect(info.clientId).toBe('azp-client');
    const info2 = await t.guard.verify(await sign(rsa, { client_id: undefined, appid: 'entra-app' }));
    expect(info2.clientId).toBe('entra-app');
  });

  test('scp as an array and as a string (Entra ID) give scopes', async () => {
    expect((await t.guard.verify(await sign(rsa, { scope: undefined, scp: ['a', 'b'] }))).scopes).toEqual(['a', 'b']);
    expect((await t.guard.verify(await sign(rsa, { scope: undefined, scp: 'a b' }))).scopes).toEqual(['a', 'b']);
  });
});

describe('typ and strict mode (RFC 9068)', () => {
  test('default: at+jwt, application/at+jwt, JWT or absent accepted; other types refused', async () => {
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT', undefined]) await expectAccepted(await sign(rsa, {}, { typ }));
    for (const typ of ['id_token+jwt', 'JOSE', 'dpop+jwt', 'logout+jwt', '']) await expectRefused(await sign(rsa, {}, { typ }), 'type_not_allowed');
    await expectRefused(signCompact(rsa, { alg: 'RS256', kid: rsa.kid, typ: 5 }, claims()), 'type_not_allowed');
  });

  test('default: sub, client_id, iat, jti are optional', async () => {
    await expectAccepted(await sign(rsa, { sub: undefined, client_id: undefined, iat: undefined, jti: undefined }));
  });

  test('strict: typ must be at+jwt; sub, client_id, iat, jti required', async () => {
    const strict = buildApp({ resource: RESOURCE, issuer: as.issuer, strict: true });
    guards.push(strict.guard);
    await expectAccepted(await sign(rsa), strict);
    await expectAccepted(await sign(rsa, {}, { typ: 'application/at+jwt' }), strict);
    for (const typ of ['JWT', undefined]) await expectRefused(await sign(rsa, {}, { typ }), 'type_not_allowed', strict);
    for (const missing of ['sub', 'client_id', 'iat', 'jti']) {
      await expectRefused(await sign(rsa, { [missing]: undefined }), 'claim_invalid', strict);
    }
    await expectRefused(await sign(rsa, { client_id: 5 }), 'claim_invalid', strict);
  });
});

describe('the request', () => {
  test('duplicate Authorization headers: 400 even when both carry the same valid token', async () => {
    const token = await sign(rsa);
    const before = t.calls();
    const res = await rawRequest(`${live.url}/mcp`, 'POST', ['Authorization', `Bearer ${token}`, 'authorization', `Bearer ${token}`, 'Content-Type', 'application/json'], JSON.stringify(PING));
    expect(res.status).toBe(400);
    expect(res.json().error.data.code).toBe('INVALID_REQUEST');
    expect(t.calls()).toBe(before);
  });

  test('query tokens: alone, beside the header, URL-encoded name', async () => {
    const token = await sign(rsa);
    const before = t.calls();
    for (const path of [`/mcp?access_token=${token}`, `/mcp?a=1&access_token=${token}`, `/mcp?access%5Ftoken=${token}`]) {
      const res = await request(t.app).post(path).set('Authorization', `Bearer ${token}`).send(PING);
      expect(res.status).toBe(400);
      const alone = await request(t.app).post(path).send(PING);
      expect(alone.status).toBe(400);
    }
    expect(t.calls()).toBe(before);
  });

  test('a pathological 16 KiB header of spaces answers in milliseconds', async () => {
    const spaces = ' '.repeat(16 * 1024);
    const headers = [
      `Bearer${spaces}x${spaces}y`,
      `Bearer ${'a'.repeat(100)}${spaces}=`,
      `${spaces}Bearer${spaces}`,
      `Bearer ${'a'.repeat(7000)}${spaces}b`,
      `Bearer ${'='.repeat(16 * 1024)}`,
      `Bearer ${'a'.repeat(8000)}${'='.repeat(8000)}!`,
    ];
    const before = t.calls();
    for (const h of headers) {
      const started = performance.now();
      const res = await rawRequest(`${live.url}/mcp`, 'POST', ['Authorization', h, 'Content-Type', 'application/json'], JSON.stringify(PING));
      const ms = performance.now() - started;
      expect([400, 401]).toContain(res.status);
      // Backtracking would take seconds to minutes; the margin is for a loaded CI machine.
      expect(ms).toBeLessThan(1000);
    }
    expect(t.calls()).toBe(before);
  });

  test('guard.verify applies the header path checks: size cap and grammar, 401', async () => {
    expect(await reasonOf(t.guard, 'a'.repeat(9000))).toBe('token_too_large');
    expect(await reasonOf(t.guard, 'has space')).toBe('malformed_token');
    expect(await reasonOf(t.guard, '')).toBe('malformed_token');
    expect(await reasonOf(t.guard, 5 as unknown as string)).toBe('malformed_token');
    expect(await reasonOf(t.guard, `${await sign(rsa)}\n`)).toBe('malformed_token');
    const err = await t.guard.verify('a'.repeat(9000)).catch((e: McpAuthError) => e);
    expect(err).toMatchObject({ status: 401, code: 'UNAUTHORIZED', bearerError: 'invalid_token' });
  });

  test('a token just under the cap is verified; one byte over is refused before decoding', async () => {
    const small = mcpAuth({ resource: RESOURCE, issuer: as.issuer, maxTokenBytes: 1024 });
    guards.push(small);
    const token = await sign(rsa);
    expect(token.length).toBeLessThan(1024);
    await expect(small.verify(token)).resolves.toMatchObject({ clientId: 'client-1' });
    expect(await reasonOf(small, token + 'a'.repeat(1025 - token.length))).toBe('token_too_large');
  });
});
