/**
 * What the introspection endpoint answers, beyond `active`:
 * - a discovered endpoint that stops answering as one (404: moved, the metadata naming the new
 *   one) sends the guard back to the metadata, once per cooldown (as a moved `jwks_uri` does);
 * - a JWT answer (RFC 9701 `application/token-introspection+jwt`) is never requested and never
 *   trusted unverified: 503;
 * - `Retry-After` is taken only when valid (RFC 9110 §10.2.3: delay-seconds or an HTTP-date),
 *   else the default 5 s;
 * - a `token_type` other than a bearer access token's (RFC 8693 `N_A`, `PoP`, another kind's URI)
 *   is refused: 401, handler not run.
 */
import request from 'supertest';
import { parseRetryAfter } from '../../lib/verify/introspection.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RS_CLIENT } from '../helpers/opaque.js';

let as: LoopbackAS;
const open: TestApp[] = [];
beforeAll(async () => { as = await startLoopbackAS(); });
afterEach(async () => { for (const t of open.splice(0)) await t.guard.close(); as.metadata = {}; });
afterAll(() => as.close());
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('introspection endpoint moved (old URL 404s, metadata fixed): opaque tokens work again after the cooldown', async () => {
  const clock = fakeClock();
  // The metadata names an endpoint that 404s (the loopback AS answers 404 for unknown paths).
  as.metadata = { introspection_endpoint: `${as.url}/old-introspect` };
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const t = buildApp(opaqueOptions(as, { clock, jwksCooldownSeconds: 30 }, { discover: true }));
  open.push(t);
  const first = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(first.status).toBe(503);

  // The authorization server fixes its metadata.
  as.metadata = {};
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    clock.advance(31_000); // past the discovery cooldown each time
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
    statuses.push(res.status);
  }
  // Some attempt after the cooldown must reach the new endpoint and pass.
  expect(statuses).toContain(200);
  expect(as.counts.introspection).toBeGreaterThanOrEqual(1);
});

test('a token-introspection+jwt answer with a garbage signature does not let the token through', async () => {
  const nowS = Math.floor(Date.now() / 1000);
  const forged = `${b64({ alg: 'RS256', typ: 'token-introspection+jwt' })}.${b64({
    iss: as.issuer, aud: RS_CLIENT.clientId, iat: nowS, token_introspection: activeAnswer(as, nowS),
  })}.${'A'.repeat(342)}`; // 256 bytes of zeros: no key signed this
  as.introspect = () => ({ headers: { 'content-type': 'application/token-introspection+jwt' }, body: forged });
  const t = buildApp(opaqueOptions(as));
  open.push(t);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(t.calls()).toBe(0);
  expect(res.status).toBe(503);
});

test.each(['1.5', '-5', 'soon 2'])('invalid Retry-After %p is ignored (default 5 s)', async (value) => {
  as.introspect = () => ({ status: 503, headers: { 'retry-after': value }, body: { error: 'temporarily_unavailable' } });
  const t = buildApp(opaqueOptions(as, { clock: fakeClock() }));
  open.push(t);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('5');
});

test('parseRetryAfter: delay-seconds and the three HTTP-date forms (a one-digit day too); anything else is none', () => {
  const now = Date.parse('1994-11-06T08:49:00Z');
  expect(parseRetryAfter(' 7 ', now)).toBe(7);
  expect(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(37);
  expect(parseRetryAfter('Sun, 6 Nov 1994 08:49:37 GMT', now)).toBe(37); // Java's RFC_1123_DATE_TIME
  expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(37);
  expect(parseRetryAfter('Sun Nov  6 08:49:37 1994', now)).toBe(37);
  for (const bad of ['1.5', '-5', 'soon 2', '+3', 'Sun, 06 Nov 1994 08:49:37 PST', '']) expect(parseRetryAfter(bad, now)).toBeUndefined();
});

test.each(['N_A', 'PoP', 'urn:ietf:params:oauth:token-type:id_token'])('token_type %s: 401 invalid_token, handler not run', async (tokenType) => {
  as.introspect = () => ({ body: activeAnswer(as, Math.floor(Date.now() / 1000), { token_type: tokenType }) });
  const t = buildApp(opaqueOptions(as));
  open.push(t);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
  expect(t.calls()).toBe(0);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
});

test('control: token_type Bearer (any case) still passes', async () => {
  as.introspect = () => ({ body: activeAnswer(as, Math.floor(Date.now() / 1000), { token_type: 'bearer' }) });
  const t = buildApp(opaqueOptions(as));
  open.push(t);
  expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
});
