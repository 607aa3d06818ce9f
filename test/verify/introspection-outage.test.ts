/**
 * Introspection outages are never the token's fault (503 AUTH_UNAVAILABLE + Retry-After, never
 * 401), and the endpoint rejecting our own credentials is a 500 AUTH_MISCONFIGURED with a
 * `misconfigured` event. Real HTTP to a loopback endpoint that fails on demand; timeouts are
 * short and bounded.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ConfigError, mcpAuth, type GuardEvent, type IntrospectionOptions, type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { startLoopbackAS, type Fault, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, expectNoTokenMaterial, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';

let as: LoopbackAS;
const open: TestApp[] = [];
const now = () => Math.floor(Date.now() / 1000);
const TIMEOUT_S = 0.4;

function app(events: GuardEvent[] = [], extra: Partial<Omit<Options, 'introspection'>> & { introspection?: Partial<IntrospectionOptions> } = {}): TestApp {
  const t = buildApp(opaqueOptions(as, { onEvent: (e) => events.push(e), ...extra, introspection: { clientId: 'mcp-rs', clientSecret: 's3cret-value', timeoutSeconds: TIMEOUT_S, ...extra.introspection } }));
  open.push(t);
  return t;
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function expect503(res: request.Response, t: TestApp, token: string, retryAfter?: string): void {
  expect(res.status).toBe(503);
  expect(res.body.error.data.code).toBe('AUTH_UNAVAILABLE');
  expect(res.headers['www-authenticate']).toBeUndefined();
  if (retryAfter !== undefined) expect(res.headers['retry-after']).toBe(retryAfter);
  else expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  expect(t.calls()).toBe(0);
  expectNoTokenMaterial(res, token);
}

beforeAll(async () => {
  as = await startLoopbackAS();
});
beforeEach(() => {
  as.resetCounts();
  as.faults.introspection = 'ok';
  as.introspect = () => ({ body: activeAnswer(as, now()) });
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.guard.close();
});
afterAll(() => as.close());

describe('outages → 503 AUTH_UNAVAILABLE with Retry-After, never 401, never cached', () => {
  const faults: [string, Fault, string][] = [
    ['HTTP 500', '500', 'http_500'],
    ['HTML instead of JSON', 'html', 'not_json'],
    ['malformed JSON', 'not-json', 'not_json'],
    ['connection reset', 'reset', 'network'],
    ['oversized answer', 'huge', 'too_large'],
    ['no "active" at all', 'empty', 'invalid_response'],
  ];
  test.each(faults)('%s', async (_name, fault, reason) => {
    const events: GuardEvent[] = [];
    const t = app(events);
    const token = opaqueToken();
    as.faults.introspection = fault;
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect503(res, t, token);
    await expect(t.guard.verify(token)).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'introspection_unavailable', status: 503 });
    expect(as.counts.introspection).toBe(2); // an outage is not cached
    const failed = events.filter((e) => e.type === 'introspection_failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ url: as.introspectionUrl, reason });
    expect(JSON.stringify(events)).not.toContain(token);
    // The server recovers: the same token now passes.
    as.faults.introspection = 'ok';
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  });

  test('a hang past the timeout: 503 within the timeout (plus a margin)', async () => {
    const events: GuardEvent[] = [];
    const t = app(events);
    const token = opaqueToken();
    as.faults.introspection = 'hang';
    const started = Date.now();
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    const elapsed = Date.now() - started;
    expect503(res, t, token);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_S * 1000 + 1500);
    expect(events).toContainEqual({ type: 'introspection_failed', url: as.introspectionUrl, reason: 'timeout' });
  });

  test('ECONNREFUSED (a closed port): 503 at once', async () => {
    const port = await closedPort();
    const events: GuardEvent[] = [];
    const t = app(events, { introspection: { clientId: 'mcp-rs', url: `http://127.0.0.1:${port}/introspect` } });
    const token = opaqueToken();
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect503(res, t, token);
    expect(events).toContainEqual({ type: 'introspection_failed', url: `http://127.0.0.1:${port}/introspect`, reason: 'network' });
  });

  test('429 with Retry-After: 503 carrying the server\'s own value', async () => {
    const t = app();
    const token = opaqueToken();
    as.introspect = () => ({ status: 429, headers: { 'retry-after': '17' }, body: { error: 'slow_down' } });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token, '17');
    as.introspect = () => ({ status: 429, headers: { 'retry-after': '42' }, body: '<html>Too many requests</html>' });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token, '42');
  });

  test('503 with an HTTP-date Retry-After: the seconds until then', async () => {
    const t = app();
    const token = opaqueToken();
    const at = new Date(Date.now() + 120_000).toUTCString();
    as.introspect = () => ({ status: 503, headers: { 'retry-after': at }, body: { error: 'temporarily_unavailable' } });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect503(res, t, token);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(115);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(121);
  });

  test('a 5xx with a JSON OAuth error body and a WWW-Authenticate header is still an outage', async () => {
    const t = app();
    const token = opaqueToken();
    as.introspect = () => ({ status: 502, headers: { 'www-authenticate': 'Bearer error="server_error"' }, body: { error: 'server_error' } });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token);
  });

  test('"active" that is not a boolean: 503', async () => {
    const t = app();
    const token = opaqueToken();
    as.introspect = () => ({ body: { ...activeAnswer(as, now()), active: 'true' } });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token);
    as.introspect = () => ({ body: [activeAnswer(as, now())] });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token);
  });

  test('a redirect is not followed: 503', async () => {
    const t = app();
    const token = opaqueToken();
    as.introspect = () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' }, body: {} });
    expect503(await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING), t, token);
    expect(as.counts.introspection).toBe(1);
  });
});

describe('our credentials rejected → 500 AUTH_MISCONFIGURED and a misconfigured event', () => {
  const answers: [string, () => { status: number; headers?: Record<string, string>; body: unknown }][] = [
    ['401 with a challenge', () => ({ status: 401, headers: { 'www-authenticate': 'Basic realm="introspection"' }, body: { error: 'invalid_client' } })],
    ['401 with a JSON error only', () => ({ status: 401, body: { error: 'invalid_client' } })],
    ['403 with HTML', () => ({ status: 403, body: '<html>Forbidden</html>' })],
    ['400 invalid_client', () => ({ status: 400, body: { error: 'invalid_client', error_description: 'client authentication failed' } })],
  ];
  test.each(answers)('%s', async (_name, answer) => {
    const events: GuardEvent[] = [];
    const t = app(events);
    const token = opaqueToken();
    as.introspect = answer;
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(500);
    expect(res.body.error.data.code).toBe('AUTH_MISCONFIGURED');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(t.calls()).toBe(0);
    expectNoTokenMaterial(res, token);
    expect(events).toContainEqual({ type: 'misconfigured', reason: 'introspection_rejected_credentials' });
    await expect(t.guard.verify(token)).rejects.toMatchObject({ reason: 'introspection_rejected_credentials', cause: expect.anything() });
    // Not cached: once the credentials are fixed, the token passes.
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
    expect(as.counts.introspection).toBe(3);
  });

  test('no introspection endpoint anywhere: 500, and ready() rejects', async () => {
    as.metadata = { introspection_endpoint: undefined };
    try {
      const events: GuardEvent[] = [];
      const t = buildApp(opaqueOptions(as, { onEvent: (e) => events.push(e) }, { discover: true }));
      open.push(t);
      const token = opaqueToken();
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
      expect(res.status).toBe(500);
      expect(res.body.error.data.code).toBe('AUTH_MISCONFIGURED');
      expect(events).toContainEqual({ type: 'misconfigured', reason: 'introspection_endpoint_missing' });
      await expect(t.guard.ready()).rejects.toMatchObject({ code: 'AUTH_MISCONFIGURED' });
      expect(as.counts.introspection).toBe(0);
    } finally {
      as.metadata = {};
    }
  });

  test('no client secret: refused at construction (ConfigError naming the option), never a request-time surprise', () => {
    let thrown: unknown;
    try {
      // @ts-expect-error the type requires clientSecret too; a JavaScript caller still gets a ConfigError
      mcpAuth({ ...opaqueOptions(as, {}), introspection: { url: as.introspectionUrl, clientId: 'mcp-rs' } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).problems).toEqual([expect.stringMatching(/^introspection\.clientSecret is required/)]);
    expect(as.counts.introspection).toBe(0);
  });

  test('a discovered plain-http introspection_endpoint off loopback: 500, a misconfigured event, nothing sent', async () => {
    // 0.0.0.0 is not a loopback host by the configuration rule; here it would reach the test server.
    as.metadata = { introspection_endpoint: as.introspectionUrl.replace('127.0.0.1', '0.0.0.0') };
    try {
      const events: GuardEvent[] = [];
      const t = buildApp(opaqueOptions(as, { onEvent: (e) => events.push(e) }, { discover: true }));
      open.push(t);
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING);
      expect({ status: res.status, code: res.body.error.data.code }).toEqual({ status: 500, code: 'AUTH_MISCONFIGURED' });
      expect(events).toContainEqual({ type: 'misconfigured', reason: 'introspection_client_invalid' });
      await expect(t.guard.ready()).rejects.toMatchObject({ code: 'AUTH_MISCONFIGURED' });
      expect(as.counts.introspection).toBe(0);
      expect(t.calls()).toBe(0);
    } finally {
      as.metadata = {};
    }
  });

  test('introspection.url configured: opaque tokens need no metadata (auto, the default, with no jwksUri)', async () => {
    as.faults.discovery = '404';
    try {
      const t = buildApp({ resource: opaqueOptions(as).resource, issuer: as.issuer, introspection: { url: as.introspectionUrl, clientId: 'mcp-rs', clientSecret: 's3cret-value' } });
      open.push(t);
      expect(t.guard.config.tokenFormat).toBe('auto');
      expect((await request(t.app).post('/mcp').set('Authorization', `Bearer ${opaqueToken()}`).send(PING)).status).toBe(200);
      expect(as.counts.introspection).toBe(1);
      expect(as.counts.discovery).toBe(0);
    } finally {
      as.faults.discovery = 'ok';
    }
  });

  test("no readable metadata (404): a JWS-shaped token is 503 and never introspected under 'auto' (a 404 may be an outage or a typo); 'opaque' introspects it", async () => {
    const jws = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from('{"sub":"u"}').toString('base64url')}.c2ln`;
    as.introspect = () => ({ body: activeAnswer(as, now()) });
    const options = { resource: opaqueOptions(as).resource, issuer: as.issuer, introspection: { url: as.introspectionUrl, clientId: 'mcp-rs', clientSecret: 's3cret-value' } };
    as.faults.discovery = '404';
    try {
      const auto = buildApp(options);
      open.push(auto);
      const res = await request(auto.app).post('/mcp').set('Authorization', `Bearer ${jws}`).send(PING);
      expect503(res, auto, jws);
      expect(as.counts.introspection).toBe(0);
      const opaque = buildApp({ ...options, tokenFormat: 'opaque' });
      open.push(opaque);
      expect((await request(opaque.app).post('/mcp').set('Authorization', `Bearer ${jws}`).send(PING)).status).toBe(200);
      expect(as.counts.introspection).toBe(1);
    } finally {
      as.faults.discovery = 'ok';
    }
  });

  test('the introspection timeout is the smaller of introspection.timeoutSeconds and httpTimeoutSeconds', async () => {
    const t = app([], { httpTimeoutSeconds: TIMEOUT_S, introspection: { clientId: 'mcp-rs', clientSecret: 's3cret-value', timeoutSeconds: 30 } });
    as.faults.introspection = 'hang';
    const token = opaqueToken();
    const started = Date.now();
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect503(res, t, token);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_S * 1000 + 1500);
  });

  test('discovery down (no introspection.url): 503, not 401', async () => {
    as.faults.discovery = '500';
    try {
      const t = buildApp(opaqueOptions(as, {}, { discover: true }));
      open.push(t);
      const token = opaqueToken();
      const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
      expect503(res, t, token);
    } finally {
      as.faults.discovery = 'ok';
    }
  });
});
