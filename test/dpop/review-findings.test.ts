/**
 * DPoP beyond the proof battery, from a security review of the first version (38cb9d6, which
 * failed each of these but the controls): the replay record never forgets a live proof to make
 * room (a flood is refused instead), verify() and check with 'required', two protect() on one
 * request, request paths the URL parser would rewrite, and typ's media-type spellings.
 * Real HTTP on 127.0.0.1, the guard's injected clock, no sleeps.
 */
import { connect } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard, type Options } from '../../lib/index.js';
import { resolveOptions } from '../../lib/options.js';
import { runCheck } from '../../lib/cli/check.js';
import { DpopProofChecker } from '../../lib/verify/dpop.js';
import { fakeClock } from '../helpers/clock.js';
import { buildProof, makeDpopKey, type DpopKey } from '../helpers/dpop.js';
import { listen, type Listening } from '../helpers/http.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };
const clock = fakeClock(Math.floor(Date.now() / 1000) * 1000);
const now = (): number => clock.seconds();
const opts = (o: Record<string, unknown>): Options => o as unknown as Options;

let as: LoopbackAS;
let asKey: TestKey;
let dk: DpopKey;
let attackerKey: DpopKey;
const lives: Listening[] = [];
const guards: McpAuthGuard[] = [];

interface Served {
  url: string;
  resource: string;
  guard: McpAuthGuard;
  calls: () => number;
  sign: (claims?: Record<string, unknown>) => Promise<string>;
}

/** One guard on its own port; `resource` = url + /mcp; `routes` adds the app's routes. */
async function serve(options: Record<string, unknown>, routes: (app: Express, guard: McpAuthGuard, handler: RequestHandler) => void): Promise<Served> {
  let app: Express | undefined;
  const live = await listen((req, res) => app!(req, res));
  lives.push(live);
  const resource = `${live.url}/mcp`;
  const guard = mcpAuth(opts({ resource, issuer: as.issuer, jwksUri: as.jwksUri, clock, ...options }));
  guards.push(guard);
  let calls = 0;
  const handler: RequestHandler = (_req, res) => { calls++; res.json({ jsonrpc: '2.0', id: 1, result: {} }); };
  app = express();
  app.use(express.json());
  routes(app, guard, handler);
  const sign = tokenBuilder({ issuer: as.issuer, audience: resource, nowSeconds: now });
  return { url: live.url, resource, guard, calls: () => calls, sign: (claims = {}) => sign(asKey, claims) };
}

/** A raw HTTP/1.1 request whose request-target is sent byte for byte (supertest/URL would normalise it). */
function rawPost(url: string, target: string, headers: Record<string, string>, body: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    let data = '';
    socket.on('data', (c: Buffer) => { data += c.toString('latin1'); });
    socket.on('error', reject);
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    let head = `POST ${target} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    socket.write(`${head}\r\n${body}`);
  });
}

beforeAll(async () => {
  as = await startLoopbackAS();
  asKey = await makeKey('RS256');
  as.keys = [asKey.publicJwk];
  [dk, attackerKey] = await Promise.all([makeDpopKey('ES256'), makeDpopKey('ES256')]);
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  await Promise.all(lives.map((l) => l.close()));
  await as.close();
});

describe('replay record (RFC 9449 §4.3 step 12, §11.1)', () => {
  const checkerFor = (cacheMaxEntries: number): DpopProofChecker => new DpopProofChecker(resolveOptions(opts({ resource: 'http://127.0.0.1:1/mcp', issuer: 'http://127.0.0.1:2', jwksUri: 'http://127.0.0.1:2/jwks', dpop: 'allowed', cacheMaxEntries, clock })));
  const htu = 'http://127.0.0.1:1/mcp';
  /** `count` valid requests by `key` (own token, fresh jti each): how many were refused, by status. */
  async function flood(checker: DpopProofChecker, key: DpopKey, tag: string, count: number): Promise<{ accepted: number; refused: number[] }> {
    const token = `token-${tag}`;
    const out = { accepted: 0, refused: [] as number[] };
    for (let i = 0; i < count; i++) {
      const p = await buildProof({ key, htm: 'POST', htu, accessToken: token, nowSeconds: now(), jti: `${tag}-${i}` });
      try {
        checker.check({ proofs: [p], token, jkt: key.thumbprint, method: 'POST', target: '/mcp' });
        out.accepted++;
      } catch (err) {
        out.refused.push((err as { status: number }).status);
      }
    }
    return out;
  }

  test('another client flooding the record with its own fresh proofs cannot push a victim proof out of it: the flood gets 503 beyond its share, the replay stays refused', async () => {
    // (cacheMaxEntries 1: a record of 1,000 proofs, 100 per key.)
    const checker = checkerFor(1);
    const victimToken = 'victim-token';
    const victimProof = await buildProof({ key: dk, htm: 'POST', htu, accessToken: victimToken, nowSeconds: now() });
    const victim = { proofs: [victimProof], token: victimToken, jkt: dk.thumbprint, method: 'POST', target: '/mcp' };
    checker.check(victim); // the legitimate request
    expect(() => checker.check(victim)).toThrow(/used before/);
    const attack = await flood(checker, attackerKey, 'a', 1000);
    expect(attack.accepted).toBe(100);
    expect(new Set(attack.refused)).toEqual(new Set([503]));
    expect(() => checker.check(victim)).toThrow(/used before/);
    checker.close();
  });

  test('many keys filling the whole record: further proofs are refused (503, not recorded), the replay stays refused; once the proofs expire the record takes new ones', async () => {
    const checker = checkerFor(1);
    const victimProof = await buildProof({ key: dk, htm: 'POST', htu, accessToken: 'victim-token', nowSeconds: now() });
    const victim = { proofs: [victimProof], token: 'victim-token', jkt: dk.thumbprint, method: 'POST', target: '/mcp' };
    checker.check(victim);
    let accepted = 1;
    for (let k = 0; k < 11; k++) accepted += (await flood(checker, await makeDpopKey(), `k${k}`, 100)).accepted;
    expect(accepted).toBe(1000); // the record's capacity: nothing recorded was dropped to make room
    const late = await flood(checker, await makeDpopKey(), 'late', 1);
    expect(late.refused).toEqual([503]);
    expect(() => checker.check(victim)).toThrow(/used before/);
    // 601 s on, every proof recorded has expired (iat + 300 s window + 1 s), and the victim's
    // proof is refused by its iat alone; new proofs are recorded again.
    clock.advance(601_000);
    expect(() => checker.check(victim)).toThrow(/iat/);
    expect((await flood(checker, await makeDpopKey(), 'after', 3)).accepted).toBe(3);
    checker.close();
  });
});

describe("dpop: 'required' and guard.verify() (the SDK adapter, the CLI check)", () => {
  test("'required': verify() of an unbound bearer token must be refused (only DPoP-bound tokens are accepted)", async () => {
    const s = await serve({ dpop: 'required' }, (app, g, h) => { app.post('/mcp', g.protect(), h); });
    const bearer = await s.sign();
    // protect() refuses it (Bearer is no credential under 'required') ...
    const viaProtect = await request(s.url).post('/mcp').set('Authorization', `Bearer ${bearer}`).send(PING);
    expect(viaProtect.status).toBe(401);
    // ... but verify() (what requireBearerAuth is handed through the README's adapter) accepts it.
    await expect(s.guard.verify(bearer)).rejects.toMatchObject({ status: 401 });
  });

  test("CLI check with MCP_AUTH_DPOP=required: an unbound bearer token is not reported 'allow'", async () => {
    const resource = 'http://127.0.0.1:3000/mcp';
    const bearer = await tokenBuilder({ issuer: as.issuer, audience: resource })(asKey);
    const report = await runCheck(bearer, { env: { MCP_AUTH_RESOURCE: resource, MCP_AUTH_ISSUER: as.issuer, MCP_AUTH_JWKS_URI: as.jwksUri, MCP_AUTH_DPOP: 'required' } });
    expect({ decision: report.decision, status: report.status }).toEqual({ decision: 'deny', status: 401 });
  });
});

describe('protect() stacked (app-wide plus a route with scopes)', () => {
  test('a legitimate DPoP request through two protect() of the same guard is accepted (the proof is one request\'s, not a replay)', async () => {
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => {
      app.use(g.protect());
      app.post('/mcp', g.protect({ scopes: ['mcp'] }), h);
    });
    const token = await s.sign({ cnf: { jkt: dk.thumbprint } });
    const proof = await buildProof({ key: dk, htm: 'POST', htu: s.resource, accessToken: token, nowSeconds: now() });
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
  test.each(['/files/%2e%2e/mcp', '/files/../mcp', '/files/..\\mcp'])('a proof for /mcp is not accepted on a request whose target the app routes elsewhere (%s)', async (target) => {
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => {
      app.post('/mcp', g.protect(), h);
      app.post('/files/{*rest}', g.protect(), h); // e.g. an upload endpoint
    });
    const token = await s.sign({ cnf: { jkt: dk.thumbprint } });
    const proof = await buildProof({ key: dk, htm: 'POST', htu: s.resource, accessToken: token, nowSeconds: now() });
    // The request goes to the /files route (Express does not resolve %2e%2e) with a proof made for /mcp.
    const status = await rawPost(s.url, target, { Authorization: `DPoP ${token}`, DPoP: proof }, JSON.stringify(PING));
    expect({ status, calls: s.calls() }).toEqual({ status: 401, calls: 0 });
  });
});

describe('typ (RFC 9449 §4.2, RFC 7515 §4.1.9: media types are case-insensitive, "application/" may be omitted)', () => {
  test.each(['application/dpop+jwt', 'DPoP+JWT'])('typ %s names the same media type: accepted', async (typ) => {
    const s = await serve({ dpop: 'allowed' }, (app, g, h) => { app.post('/mcp', g.protect(), h); });
    const token = await s.sign({ cnf: { jkt: dk.thumbprint } });
    const proof = await buildProof({ key: dk, htm: 'POST', htu: s.resource, accessToken: token, nowSeconds: now(), typ });
    const res = await request(s.url).post('/mcp').set('Authorization', `DPoP ${token}`).set('DPoP', proof).send(PING);
    expect(res.status).toBe(200);
  });
});
