/**
 * DPoP beyond the proof battery, from two security reviews (38cb9d6 failed each of these but the
 * controls; f824e56 the absolute-form paths): verify() and check with 'required', two protect()
 * on one request, request paths the URL parser would rewrite, and typ's media-type spellings.
 * (The replay record's own rules: proof-record.test.ts.)
 * Real HTTP on 127.0.0.1, the guard's injected clock, no sleeps.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { runCheck } from '../../lib/cli/check.js';
import { resolveOptions } from '../../lib/options.js';
import { quotaOwnerOf } from '../../lib/policy/bindings.js';
import { toAuthInfo } from '../../lib/verify/claims.js';
import { DpopProofChecker } from '../../lib/verify/dpop.js';
import { buildProof, makeDpopKey, type DpopKey } from '../helpers/dpop.js';
import { dpopSuite } from '../helpers/dpop-suite.js';
import { rawRequest } from '../helpers/http.js';
import type { TestKey } from '../helpers/keys.js';
import type { LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING, RESOURCE } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';

const suite = dpopSuite();
const { clock, serve } = suite;
const now = (): number => clock.seconds();

let as: LoopbackAS;
let asKey: TestKey;
let dk: DpopKey;
beforeAll(() => { as = suite.as(); asKey = suite.asKey(); dk = suite.key(); });
/** Guards a test builds itself (`suite.serve` closes its own). */
const guards: McpAuthGuard[] = [];
afterAll(() => Promise.all(guards.map((g) => g.close())));

/** A DPoP POST whose request target is sent byte for byte (supertest/URL would normalise it): status and RFC 6750/9449 error. */
async function rawPost(url: string, target: string, token: string, proof: string): Promise<{ status: number; error: unknown }> {
  const res = await rawRequest(url, 'POST', ['Content-Type', 'application/json', 'Authorization', `DPoP ${token}`, 'DPoP', proof], JSON.stringify(PING), { target });
  return { status: res.status, error: res.status === 401 ? (res.json() as { error?: { data?: { error?: unknown } } }).error?.data?.error : undefined };
}

describe("dpop: 'required' and guard.verify() (the SDK adapter, the CLI check)", () => {
  test("'required': verify() of an unbound bearer token must be refused (only DPoP-bound tokens are accepted)", async () => {
    const s = await serve({ dpop: 'required' });
    const bearer = await s.sign();
    // protect() refuses it (Bearer is no credential under 'required') ...
    const viaProtect = await request(s.url).post('/mcp').set('Authorization', `Bearer ${bearer}`).send(PING);
    expect(viaProtect.status).toBe(401);
    // ... and so does verify() (what requireBearerAuth is handed through the README's adapter).
    await expect(s.guard.verify(bearer)).rejects.toMatchObject({ status: 401, reason: 'token_not_bound' });
  });

  test("CLI check with MCP_AUTH_DPOP=required: an unbound bearer token is not reported 'allow'", async () => {
    const resource = 'http://127.0.0.1:3000/mcp';
    const bearer = await tokenBuilder({ issuer: as.issuer, audience: resource })(asKey);
    const report = await runCheck(bearer, { env: { MCP_AUTH_RESOURCE: resource, MCP_AUTH_ISSUER: as.issuer, MCP_AUTH_JWKS_URI: as.jwksUri, MCP_AUTH_DPOP: 'required' } });
    expect({ decision: report.decision, status: report.status, reason: report.reason }).toEqual({ decision: 'deny', status: 401, reason: 'token_not_bound' });
  });
});

describe('protect() stacked (app-wide plus a route with scopes)', () => {
  test('a legitimate DPoP request through two protect() of the same guard is accepted (the proof is one request\'s, not a replay)', async () => {
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => {
      app.use(g.protect());
      app.post('/mcp', g.protect({ scopes: ['mcp'] }), h);
    });
    const token = await s.bound();
    const proof = await s.proof(token);
    const res = await request(s.url).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
    expect({ status: res.status, reason: res.body?.error?.data?.error_description, calls: s.calls() }).toEqual({ status: 200, reason: undefined, calls: 1 });
  });

  test('the same with a Bearer token works (control)', async () => {
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => {
      app.use(g.protect());
      app.post('/mcp', g.protect({ scopes: ['mcp'] }), h);
    });
    const token = await s.sign();
    const res = await request(s.url).post('/mcp').set('Authorization', `Bearer ${token}`).send(PING);
    expect(res.status).toBe(200);
  });
});

describe('htu (RFC 9449 §4.3 step 9)', () => {
  // Each case in origin form (POST /files/../mcp) and in absolute form (POST http://host/files/../mcp,
  // whose parsed pathname is already /mcp: a second review found that form let through).
  const cases = ['/files/%2e%2e/mcp', '/files/../mcp', '/files/..\\mcp'].flatMap((path) => [['origin', path], ['absolute', path]] as const);
  test.each(cases)('a proof for /mcp is not accepted on a request whose target the app routes elsewhere (%s form, %s)', async (form, path) => {
    const filesSaw: string[] = [];
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => {
      app.post('/mcp', g.protect(), h);
      // e.g. an upload endpoint: Express routes the path as received (it does not resolve .. or %2e%2e)
      app.post('/files/{*rest}', g.protect(), (req, res) => { filesSaw.push(req.path); res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
    });
    const token = await s.bound();
    const proof = await s.proof(token);
    const target = form === 'origin' ? path : `${s.url}${path}`;
    const { status, error } = await rawPost(s.url, target, token, proof);
    expect({ status, error, calls: s.calls(), filesSaw }).toEqual({ status: 401, error: 'invalid_dpop_proof', calls: 0, filesSaw: [] });
  });

  // An authority that url.parse (Express's router) ends early routes another path than the one the
  // guard would take from it: /:acme/mcp, ;admin/mcp, %27admin/mcp, %2fadmin/mcp, //admin/mcp. Only
  // http(s), a host name or IP literal and a port are taken; userinfo is refused too (RFC 9110
  // §4.2.4: never sent in a target). From a third review (cb8674c accepted these).
  test.each(['http://h:acme/mcp', 'http://h;admin/mcp', "http://h'admin/mcp", 'http://h%2fadmin/mcp', 'javascript://admin/mcp', 'http://user@h/mcp'])('an absolute-form target whose authority parsers read differently is refused (%s)', async (target) => {
    const saw: string[] = [];
    const s = await serve({ dpop: 'allowed' }, (app, g) => {
      app.post('/:tenant/mcp', g.protect(), (req, res) => { saw.push(req.path); res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
      app.use(g.protect(), (req, res) => { saw.push(req.path); res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
    });
    const token = await s.bound();
    const proof = await s.proof(token);
    const { status, error } = await rawPost(s.url, target, token, proof);
    expect({ status, error, saw }).toEqual({ status: 401, error: 'invalid_dpop_proof', saw: [] });
  });

  test('an absolute-form target in normal form is accepted (its path, not its authority, is compared)', async () => {
    const s = await serve({ dpop: 'allowed' });
    const token = await s.bound();
    const proof = await s.proof(token);
    const { status } = await rawPost(s.url, `http://other.example${new URL(s.resource).pathname}`, token, proof);
    expect({ status, calls: s.calls() }).toEqual({ status: 200, calls: 1 });
  });
});

describe('typ (RFC 9449 §4.2, RFC 7515 §4.1.9: media types are case-insensitive, "application/" may be omitted)', () => {
  test.each(['application/dpop+jwt', 'DPoP+JWT'])('typ %s names the same media type: accepted', async (typ) => {
    const s = await serve({ dpop: 'allowed' });
    const token = await s.bound();
    const proof = await s.proof(token, { typ });
    const res = await request(s.url).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
    expect(res.status).toBe(200);
  });
});

describe('the replay record behind the proof check (its rules: proof-record.test.ts)', () => {
  test('a client past its share (10,000 proofs in a window with the default sizes) gets 503 dpop_replay_record_full with Retry-After until its first proof expires; another is still served', async () => {
    const checker = new DpopProofChecker(resolveOptions({ resource: 'http://127.0.0.1:1/mcp', issuer: 'http://127.0.0.1:2', jwksUri: 'http://127.0.0.1:2/jwks', dpop: 'allowed', cacheMaxEntries: 1, clock }));
    const htu = 'http://127.0.0.1:1/mcp';
    const request = async (key: DpopKey, jti: string) => {
      const token = `token-${key.thumbprint}`;
      return { proofs: [await buildProof({ key, htm: 'POST', htu, accessToken: token, nowSeconds: now(), jti })], token, jkt: key.thumbprint, owner: `client-${key.thumbprint}`, method: 'POST', target: '/mcp' };
    };
    const busy = await makeDpopKey('ES256');
    const proofs = await Promise.all(Array.from({ length: 10_001 }, (_, i) => request(busy, `b${i}`)));
    for (const p of proofs.slice(0, 10_000)) checker.check(p);
    let refused: unknown;
    try { checker.check(proofs[10_000]!); } catch (err) { refused = err; }
    // Kept until iat + 300 s + 1 s: the oldest (iat = now) frees its place in 301 s.
    expect(refused).toMatchObject({ status: 503, reason: 'dpop_replay_record_full', retryAfterSeconds: 301 });
    expect(() => checker.check(proofs[0]!)).toThrow(expect.objectContaining({ reason: 'dpop_proof_replayed' }));
    const other = await request(dk, 'o1');
    expect(() => checker.check(other)).not.toThrow();
    checker.close();
  }, 60_000);
});

describe('the replay record and who a proof counts against (a fourth review, of 762127a)', () => {
  test.each([
    ['the same answer (control)', (bound: Record<string, unknown>) => bound],
    ['an answer without sub (RFC 7662: optional), so another owner', (bound: Record<string, unknown>) => ({ ...bound, sub: undefined })],
  ])('a captured proof replayed with its own opaque token after the cache entry expired is refused, %s', async (_label, later) => {
    const token = opaqueToken();
    const bound = { token_type: 'DPoP', cnf: { jkt: dk.thumbprint } };
    let answer = activeAnswer(as, now(), bound);
    as.introspect = () => ({ body: answer });
    const guard = mcpAuth(opaqueOptions(as, { dpop: 'allowed', clock, cacheMaxAgeSeconds: 1 }));
    guards.push(guard);
    const events: string[] = [];
    const app = express();
    app.use(express.json());
    app.post('/mcp', guard.protect(), (_req, res) => { events.push('handler'); res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
    const proof = await buildProof({ key: dk, htm: 'POST', htu: RESOURCE, accessToken: token, nowSeconds: now() });
    expect((await request(app).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING)).status).toBe(200);
    clock.advance(2000); // the cache entry (cacheMaxAgeSeconds 1) expires: the token is introspected again
    answer = activeAnswer(as, now(), later(bound));
    const replay = await request(app).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
    expect({ status: replay.status, error: replay.body.error?.data?.error, handler: events.length }).toEqual({ status: 401, error: 'invalid_dpop_proof', handler: 1 });
  });

  test("one client of a user cannot lock the user's other clients out: after client A sends its 10,000 proofs, client B (another client_id, another key) is still served", async () => {
    const resource = 'http://127.0.0.1:1/mcp';
    const c = resolveOptions({ resource, issuer: 'http://127.0.0.1:2', jwksUri: 'http://127.0.0.1:2/jwks', dpop: 'allowed', cacheMaxEntries: 1, clock });
    const checker = new DpopProofChecker(c);
    const input = async (key: DpopKey, clientId: string, jti: string) => {
      const token = `token-${clientId}`;
      const info = toAuthInfo(token, { iss: 'http://127.0.0.1:2', sub: 'alice', client_id: clientId, cnf: { jkt: key.thumbprint } }, now() + 3600, c);
      return { proofs: [await buildProof({ key, htm: 'POST', htu: resource, accessToken: token, nowSeconds: now(), jti })], token, jkt: key.thumbprint, owner: quotaOwnerOf(info), method: 'POST', target: '/mcp' };
    };
    const rogueKey = await makeDpopKey('ES256');
    const flood = await Promise.all(Array.from({ length: 10_001 }, (_, i) => input(rogueKey, 'rogue-app', `r${i}`)));
    for (const p of flood.slice(0, 10_000)) checker.check(p);
    expect(() => checker.check(flood[10_000]!)).toThrow(expect.objectContaining({ reason: 'dpop_replay_record_full' }));
    const legit = await input(dk, 'legit-app', 'l1');
    expect(() => checker.check(legit)).not.toThrow();
    checker.close();
  }, 120_000);

  test("check's hint for a token bound by a malformed cnf.jkt (dpop on) names the binding, not 'an ID token?'", async () => {
    const resource = 'http://127.0.0.1:3000/mcp';
    const token = await tokenBuilder({ issuer: as.issuer, audience: resource })(asKey, { cnf: { jkt: 'not-a-thumbprint' } });
    const report = await runCheck(token, { env: { MCP_AUTH_RESOURCE: resource, MCP_AUTH_ISSUER: as.issuer, MCP_AUTH_JWKS_URI: as.jwksUri, MCP_AUTH_DPOP: 'allowed' } });
    expect(report.reason).toBe('type_not_allowed');
    expect(report.hint).toContain('cnf.jkt');
  });
});
