/**
 * An `nbf` that is not a number (a string, null, an object) or not finite (JSON `1e400`), and an
 * `exp` of `-1e400`, are malformed claims (RFC 7519 §2 NumericDate: "A JSON numeric value"), not
 * tokens that are "not yet valid" or "expired": 401 with `reason` `claim_invalid`, as `exp: 1e400`,
 * `nbf: -1e400` and `iat: "…"` get (they were answered `token_not_yet_valid` / `token_expired`,
 * so clients waited and retried the same broken token, and metrics counted it as clock skew).
 */
import request from 'supertest';
import { McpAuthError } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { signCompact } from '../helpers/raw-jws.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
let as: LoopbackAS;
let key: TestKey;
let t: TestApp;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  as = await startLoopbackAS();
  key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  t = buildApp({ resource: RESOURCE, issuer: as.issuer, cacheMaxAgeSeconds: 0 });
});
afterAll(async () => {
  await t.guard.close();
  await as.close();
});

/** Claims JSON with one time claim set to a raw JSON literal (so `1e400` survives). */
function payload(claim: 'nbf' | 'exp', rawJson: string): string {
  const c: Record<string, unknown> = { iss: as.issuer, aud: RESOURCE, sub: 'u', client_id: 'c', scope: 'mcp', iat: now(), exp: now() + 600, jti: 'j' };
  c[claim] = '__RAW__';
  return JSON.stringify(c).replace('"__RAW__"', rawJson);
}

test.each<[string, 'nbf' | 'exp', string]>([
  ['nbf a numeric string', 'nbf', '"1700000000"'],
  ['nbf null', 'nbf', 'null'],
  ['nbf an object', 'nbf', '{"n":1}'],
  ['nbf 1e400 (Infinity)', 'nbf', '1e400'],
  ['exp -1e400 (-Infinity)', 'exp', '-1e400'],
])('%s: 401 with reason claim_invalid', async (_name, claim, raw) => {
  const token = signCompact(key, { alg: 'RS256', kid: key.kid, typ: 'at+jwt' }, payload(claim, raw));
  const before = t.calls();
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(401);
  expect(res.body.error.data.code).toBe('UNAUTHORIZED');
  expect(res.body.error.data.error).toBe('invalid_token');
  expect(t.calls()).toBe(before);
  const err = await t.guard.verify(token).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(McpAuthError);
  expect((err as McpAuthError).reason).toBe('claim_invalid');
});
