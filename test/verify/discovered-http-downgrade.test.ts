/**
 * A discovered `jwks_uri` must be `https:` (README, Security): the loopback `http:` exception is for
 * an `http:` loopback issuer in development, so the metadata of a remote `https:` authorization
 * server cannot point the guard at a plain-HTTP port on its own host (keys served there would be
 * trusted). The introspection path refuses the same downgrade.
 *
 * No DNS and no TLS here: global `fetch` is wrapped so that `https://as.example.com` is served by a
 * loopback authorization server (127.0.0.1, port 0); the guard sees an ordinary https issuer.
 */
import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { fakeClock } from '../helpers/clock.js';
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ISSUER = 'https://as.example.com';
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

let as: LoopbackAS;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  as = await startLoopbackAS();
  globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return realFetch(url.startsWith(ISSUER) ? as.url + url.slice(ISSUER.length) : url, init);
  }) as typeof fetch;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await as.close();
});

test('an https issuer whose metadata names an http://127.0.0.1 jwks_uri: refused (503), nothing fetched from that port', async () => {
  const key = await makeKey('RS256');
  as.keys = [key.publicJwk];
  // The remote https server's metadata points at a plain-HTTP port of this very host.
  as.metadata = { issuer: ISSUER, jwks_uri: `${as.url}/jwks` };
  const clock = fakeClock(1_800_000_000_000);
  const t = buildApp({ resource: RESOURCE, issuer: ISSUER, clock });
  try {
    const sign = tokenBuilder({ issuer: ISSUER, audience: RESOURCE, nowSeconds: clock.seconds });
    const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${await sign(key)}`).send(PING);
    expect(as.counts.discovery).toBe(1); // the https metadata was read (through the wrapper)
    expect(as.counts.jwks).toBe(0); // actual: 1 (keys fetched over plain http from a loopback port)
    expect(res.status).toBe(503);
    expect(t.calls()).toBe(0);
  } finally {
    await t.guard.close();
  }
});
