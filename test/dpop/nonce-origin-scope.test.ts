/**
 * DPoP server nonces are the resource's origin's (with the secret and `dpopNonceSeconds`), as DPoP
 * clients keep one nonce per origin (examples/dpop-fetch.ts; oauth4webapi's `dpopNonces` keyed by
 * `url.origin`): two guarded endpoints on one origin accept each other's nonces, and a client
 * alternating between them is asked for a nonce once, not on every switch.
 * Real HTTP on 127.0.0.1, the suite's fake clock, no sleeps.
 */
import type { RequestHandler } from 'express';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { dpopFetch } from '../../examples/dpop-fetch.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { dpopSuite, type DpopServed } from '../helpers/dpop-suite.js';
import { buildProof } from '../helpers/dpop.js';
import { PING } from '../helpers/opaque.js';
import { tokenBuilder } from '../helpers/tokens.js';

const suite = dpopSuite();
const SECRET = 'a-shared-secret-of-at-least-32-characters';
const BODY = JSON.stringify(PING);

/** Guard A at `<origin>/mcp` (the suite's), guard B at `<origin>/b`: one origin, one secret. */
async function twoResources(): Promise<{ a: DpopServed; b: McpAuthGuard; bResource: string; bToken: () => Promise<string>; arrivals: { path: string; nonce: unknown }[] }> {
  const arrivals: { path: string; nonce: unknown }[] = [];
  let bProtect: RequestHandler | undefined;
  const opts = { dpop: 'required' as const, dpopNonceSeconds: 60, dpopNonceSecret: SECRET };
  const a = await suite.serve(opts, (app, g, handler) => {
    app.use((req, _res, next) => {
      const p = req.headers.dpop;
      arrivals.push({ path: req.path, nonce: typeof p === 'string' ? decodeJwt(p).nonce : undefined });
      next();
    });
    app.post('/mcp', g.protect(), handler);
    app.post('/b', (req, res, next) => bProtect!(req, res, next), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  });
  const bResource = `${a.url}/b`;
  const b = mcpAuth({ resource: bResource, issuer: suite.as().issuer, jwksUri: suite.as().jwksUri, clock: suite.clock, ...opts });
  bProtect = b.protect();
  const signB = tokenBuilder({ issuer: suite.as().issuer, audience: bResource, nowSeconds: () => suite.clock.seconds() });
  return { a, b, bResource, bToken: () => signB(suite.asKey(), { cnf: { jkt: suite.key().thumbprint } }), arrivals };
}

test('guards for two resources on one origin, sharing dpopNonceSecret, accept each other\'s nonces (DPoP clients keep one nonce per origin)', async () => {
  const { a, b, bResource, bToken } = await twoResources();
  try {
    const tokenA = await a.bound();
    const first = await request(a.url).post('/mcp').set('Authorization', `DPoP ${tokenA}`).set('DPoP', await a.proof(tokenA)).send(PING);
    expect(first.status).toBe(401);
    const nonce = first.headers['dpop-nonce'] as string;
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const tokenB = await bToken();
    // Control: B asks for nonces (a made-up one is refused, with B's nonce).
    const madeUp = await buildProof({ key: suite.key(), htm: 'POST', htu: bResource, nowSeconds: suite.clock.seconds(), accessToken: tokenB, claims: { nonce: 'A'.repeat(43) } });
    const refused = await request(a.url).post('/b').set('Authorization', `DPoP ${tokenB}`).set('DPoP', madeUp).send(PING);
    expect({ status: refused.status, challenge: refused.headers['www-authenticate'], nonce: refused.headers['dpop-nonce'] }).toEqual({ status: 401, challenge: expect.stringMatching(/^DPoP error="use_dpop_nonce"/), nonce });
    const proof = await buildProof({ key: suite.key(), htm: 'POST', htu: bResource, nowSeconds: suite.clock.seconds(), accessToken: tokenB, claims: { nonce } });
    const there = await request(a.url).post('/b').set('Authorization', `DPoP ${tokenB}`).set('DPoP', proof).send(PING);
    expect({ status: there.status, challenge: there.headers['www-authenticate'] }).toEqual({ status: 200, challenge: undefined });
  } finally {
    await b.close();
  }
});

test('dpopFetch alternating between two guarded resources on one origin is asked for a nonce once, not on every switch', async () => {
  const { a, b, bResource, bToken, arrivals } = await twoResources();
  try {
    const key = { privateKey: suite.key().privateKey, publicJwk: suite.key().publicJwk, alg: 'ES256' };
    const tokenB = await bToken();
    // One client, one nonce store: the same dpopFetch with the token of each resource.
    const tokens = new Map([[a.resource, await a.bound()], [bResource, tokenB]]);
    let current = a.resource;
    const f = dpopFetch({ ...key, accessToken: () => Promise.resolve(tokens.get(current)!) });
    const statuses: number[] = [];
    for (const target of [a.resource, bResource, a.resource, bResource]) {
      current = target;
      statuses.push((await f(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    // The first request without a nonce, its retry, then one request each: five, not eight.
    expect(arrivals.map((x) => x.path)).toEqual(['/mcp', '/mcp', '/b', '/mcp', '/b']);
  } finally {
    await b.close();
  }
});
