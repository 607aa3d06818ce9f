/**
 * Several trusted issuers (`issuer: [a, b]`): each token is verified with the keys and the `iss` of
 * the issuer it names, and only those. Two loopback authorization servers, each with its own key;
 * the guard discovers each one's `jwks_uri`. Counts of JWKS fetches show which server was asked.
 * Also: a payload that names no issuer, which issuer is down (events, `ready()`), `doctor`.
 */
import request from 'supertest';
import { runDoctor } from '../../lib/cli/doctor.js';
import { mcpAuth, fromEnv, type GuardEvent, type McpAuthGuard, type Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { configProblems } from '../helpers/config.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let a: LoopbackAS;
let b: LoopbackAS;
let keyA: TestKey;
let keyB: TestKey;
const open: { guard: McpAuthGuard }[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([startLoopbackAS(), startLoopbackAS()]);
  [keyA, keyB] = await Promise.all([makeKey('RS256'), makeKey('ES256')]);
  a.keys = [keyA.publicJwk];
  b.keys = [keyB.publicJwk];
});
afterAll(async () => {
  for (const t of open) await t.guard.close();
  await a.close();
  await b.close();
});
beforeEach(() => {
  for (const as of [a, b]) {
    as.resetCounts();
    as.faults.discovery = 'ok';
    as.faults.jwks = 'ok';
    as.metadata = {};
  }
});

function app(extra: Partial<Options> = {}): TestApp {
  const t = buildApp({ resource: RESOURCE, issuer: [a.issuer, b.issuer], ...extra });
  open.push(t);
  return t;
}
const sign = (issuer: string, key: TestKey, claims: Record<string, unknown> = {}) => tokenBuilder({ issuer, audience: RESOURCE })(key, claims);
const post = (t: TestApp, token: string) => request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });

test('a token of either issuer passes, each checked with its own issuer\'s keys (req.auth names its iss)', async () => {
  const t = app();
  const fromA = await post(t, await sign(a.issuer, keyA));
  expect(fromA.status).toBe(200);
  expect((t.lastAuth() as { extra: { iss: string } }).extra.iss).toBe(a.issuer);
  expect([a.counts.jwks, b.counts.jwks]).toEqual([1, 0]);
  const fromB = await post(t, await sign(b.issuer, keyB));
  expect(fromB.status).toBe(200);
  expect((t.lastAuth() as { extra: { iss: string } }).extra.iss).toBe(b.issuer);
  expect([a.counts.jwks, b.counts.jwks]).toEqual([1, 1]);
  expect(t.calls()).toBe(2);
});

test('a token signed with one issuer\'s key but naming the other is checked against the other\'s keys only: 401', async () => {
  const t = app();
  // Signed by A (its kid, or B's kid), iss B: only B's key set is consulted, and none of its keys verifies A's signature.
  for (const forged of [await sign(b.issuer, keyA), await tokenBuilder({ issuer: b.issuer, audience: RESOURCE })(keyA, {}, { kid: keyB.kid })]) {
    const res = await post(t, forged);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  }
  expect(a.counts.jwks).toBe(0);
  expect(b.counts.jwks).toBeGreaterThan(0);
  expect(t.calls()).toBe(0);
});

test('an iss that names no trusted issuer (or none at all): 401 issuer_mismatch before any key is fetched', async () => {
  const events: { type: string; reason?: string }[] = [];
  const t = app({ onEvent: (e) => events.push(e) });
  for (const claims of [{ iss: 'https://evil.example' }, { iss: `${a.issuer}/` }, { iss: undefined }, { iss: 7 }]) {
    const res = await post(t, await sign(a.issuer, keyA, claims));
    expect(res.status).toBe(401);
    expect(res.body.error.data.error).toBe('invalid_token');
  }
  expect(events.filter((e) => e.type === 'deny').map((e) => e.reason)).toEqual(['issuer_mismatch', 'issuer_mismatch', 'issuer_mismatch', 'issuer_mismatch']);
  expect([a.counts.jwks, b.counts.jwks, a.counts.discovery, b.counts.discovery]).toEqual([0, 0, 0, 0]);
  expect(t.calls()).toBe(0);
});

test('one issuer down: its tokens get 503, the other issuer\'s still pass', async () => {
  const t = app({ httpTimeoutSeconds: 2 });
  b.faults.jwks = '500';
  try {
    expect((await post(t, await sign(b.issuer, keyB))).status).toBe(503);
    expect((await post(t, await sign(a.issuer, keyA))).status).toBe(200);
  } finally {
    b.faults.jwks = 'ok';
  }
});

test('the metadata lists every issuer in authorization_servers', async () => {
  const t = app();
  const res = await request(t.app).get('/.well-known/oauth-protected-resource/mcp');
  expect(res.status).toBe(200);
  expect(res.body.authorization_servers).toEqual([a.issuer, b.issuer]);
});

test('ready() loads every issuer\'s keys; guard.verify() routes by iss too', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: [a.issuer, b.issuer] });
  open.push({ guard });
  await guard.ready();
  expect([a.counts.jwks, b.counts.jwks]).toEqual([1, 1]);
  expect((await guard.verify(await sign(b.issuer, keyB))).extra?.iss).toBe(b.issuer);
  expect(guard.config.issuers).toEqual([a.issuer, b.issuer]);
  expect(guard.config.issuer).toBe(a.issuer);
});

test('ready() rejects when one issuer cannot be reached', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: [a.issuer, b.issuer], httpTimeoutSeconds: 2 });
  open.push({ guard });
  b.faults.discovery = '500';
  try {
    await expect(guard.ready()).rejects.toMatchObject({ status: 503 });
  } finally {
    b.faults.discovery = 'ok';
  }
});

describe('options', () => {
  const base = { resource: RESOURCE };
  const problems = configProblems;
  test('several issuers need JWTs and discovered keys', () => {
    expect(problems({ ...base, issuer: ['https://a.example', 'https://b.example'], jwksUri: 'https://a.example/jwks' })).toEqual([expect.stringMatching(/^jwksUri cannot be set with several issuers/)]);
    expect(problems({ ...base, issuer: ['https://a.example', 'https://b.example'], introspection: { clientId: 'c', clientSecret: 's' } })).toEqual([expect.stringMatching(/^introspection cannot be set with several issuers/)]);
    expect(problems({ ...base, issuer: ['https://a.example', 'https://b.example'], tokenFormat: 'opaque', introspection: { clientId: 'c', clientSecret: 's' } })).toEqual([
      expect.stringMatching(/^several issuers need tokenFormat "jwt".*"opaque"/), expect.stringMatching(/^introspection cannot be set with several issuers/)]);
  });
  test('a list of issuers is checked entry by entry', () => {
    expect(problems({ ...base, issuer: [] })).toEqual(['issuer must be an issuer identifier (a URL), or a non-empty array of them']);
    expect(problems({ ...base, issuer: ['https://a.example', 'https://a.example'] })).toEqual(['issuer[1]: "https://a.example" is listed twice']);
    expect(problems({ ...base, issuer: ['https://a.example', 'http://b.example'] })).toEqual([expect.stringMatching(/^issuer\[1\]/)]);
    expect(problems({ ...base, issuer: ['https://a.example', 'https://b.example?x=1'] })).toEqual([expect.stringMatching(/^issuer\[1\] must not contain a query/)]);
    expect(problems({ ...base, issuer: ['https://a.example', 7] })).toEqual([expect.stringMatching(/^issuer\[1\] must be a non-empty URL string/)]);
    expect(problems({ ...base, issuer: 'https://a.example' })).toEqual([]);
    expect(problems({ ...base, issuer: ['https://a.example'] })).toEqual([]);
  });
  test('MCP_AUTH_ISSUER takes several issuers, separated by commas or spaces; one stays a string', () => {
    expect(fromEnv({ MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: 'https://a.example, https://b.example' }).issuer).toEqual(['https://a.example', 'https://b.example']);
    expect(fromEnv({ MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: ' https://a.example ' }).issuer).toBe('https://a.example');
  });
});

describe('a payload that names no issuer', () => {
  const b64 = (v: string) => Buffer.from(v).toString('base64url');
  // Header fine (alg allowed, a kid), payload not a claims set: "null", "[]", a JSON string, not JSON.
  const header = b64(JSON.stringify({ alg: 'RS256', kid: 'attacker-kid', typ: 'at+jwt' }));
  const junk = ['null', '[]', '"x"', 'not json'].map((p) => `${header}.${b64(p)}.${b64('sig')}`);

  test('is refused with 401 before any issuer is asked', async () => {
    const t = app({ httpTimeoutSeconds: 2 });
    for (const token of junk) expect((await post(t, token)).status).toBe(401);
    expect([a.counts.discovery, a.counts.jwks, b.counts.discovery, b.counts.jwks]).toEqual([0, 0, 0, 0]);
    expect(t.calls()).toBe(0);
  });

  test('gets 401, not 503, while the first issuer is down', async () => {
    const t = app({ httpTimeoutSeconds: 2 });
    a.faults.discovery = '500';
    const res = await post(t, junk[0]!);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });
});

describe('which issuer is down', () => {
  test('a discovery failure of one issuer is reported with that issuer named in the key event', async () => {
    const events: GuardEvent[] = [];
    const t = app({ httpTimeoutSeconds: 2, onEvent: (e) => events.push(e) });
    b.faults.discovery = '500';
    expect((await post(t, await sign(b.issuer, keyB))).status).toBe(503);
    expect(events.filter((e) => e.type === 'keys_refresh_failed')).toEqual([{ type: 'keys_refresh_failed', issuer: b.issuer, jwksUri: '', reason: 'discovery_failed' }]);
  });

  test('ready() names the issuer that could not be reached', async () => {
    const guard = mcpAuth({ resource: RESOURCE, issuer: [a.issuer, b.issuer], httpTimeoutSeconds: 2 });
    open.push({ guard });
    b.faults.discovery = '500';
    const err = await guard.ready().then(() => undefined, (e: unknown) => e as Error & { description?: string });
    expect(err).toMatchObject({ status: 503 });
    expect(err!.description).toContain(b.issuer);
  });

  test('doctor checks each issuer; a fix for one keeps the others in MCP_AUTH_ISSUER', async () => {
    b.metadata = { issuer: `${b.issuer}/` };
    const report = await runDoctor({ MCP_AUTH_RESOURCE: RESOURCE, MCP_AUTH_ISSUER: `${a.issuer} ${b.issuer}`, MCP_AUTH_HTTP_TIMEOUT_SECONDS: '2' });
    expect(report.checks.filter((c) => c.id === 'issuer').map((c) => c.status)).toEqual(['pass', 'fail']);
    const failed = report.checks.find((c) => c.id === 'issuer' && c.status === 'fail')!;
    expect(failed.fix).toContain(`MCP_AUTH_ISSUER="${a.issuer} ${b.issuer}/"`);
  });
});
