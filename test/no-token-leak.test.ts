/**
 * A battery of requests (allowed, refused, outages) while everything the process writes is
 * captured: console.*, process.stdout and process.stderr, every response (headers and body),
 * every event, every error's message, description and cause. No token, and no token's signature
 * part, may appear anywhere.
 */
import express from 'express';
import request from 'supertest';
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { mcpAuth, McpAuthError, type GuardEvent, type McpAuthGuard } from '../lib/index.js';
import { listen, rawRequest, type Listening } from './helpers/http.js';
import { makeKey, type TestKey } from './helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from './helpers/loopback-as.js';
import { signCompact, signHmac } from './helpers/raw-jws.js';
import { tokenBuilder } from './helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const captured: string[] = [];
const tokens: string[] = [];
const events: GuardEvent[] = [];
const restore: (() => void)[] = [];
let as: LoopbackAS;
let down: LoopbackAS;
let key: TestKey;
let evil: TestKey;
const guards: McpAuthGuard[] = [];
let live: Listening;
let app: express.Express;

function capture(): void {
  for (const m of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[m];
    console[m] = (...args: unknown[]) => { captured.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 10 }))).join(' ')); };
    restore.push(() => { console[m] = original; });
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => { stream.write = original; });
  }
}

beforeAll(async () => {
  capture();
  as = await startLoopbackAS();
  down = await startLoopbackAS();
  down.faults = { discovery: 'html', jwks: '500', introspection: '500' };
  [key, evil] = await Promise.all([makeKey('RS256'), makeKey('RS256')]);
  as.keys = [key.publicJwk];
  down.keys = [key.publicJwk];
  const onEvent = (e: GuardEvent) => { events.push(e); };
  const main = mcpAuth({ resource: RESOURCE, issuer: as.issuer, requiredScopes: ['mcp'], onEvent });
  const outage = mcpAuth({ resource: RESOURCE, issuer: down.issuer, onEvent });
  const outageJwks = mcpAuth({ resource: RESOURCE, issuer: down.issuer, jwksUri: down.jwksUri, onEvent });
  guards.push(main, outage, outageJwks);
  app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.use(main.metadata());
  app.post('/mcp', main.protect(), (_req, res) => { res.json({ ok: true }); });
  app.post('/admin', main.protect({ scopes: ['admin'] }), (_req, res) => { res.json({ ok: true }); });
  app.post('/down', outage.protect(), (_req, res) => { res.json({ ok: true }); });
  app.post('/down-jwks', outageJwks.protect(), (_req, res) => { res.json({ ok: true }); });
  live = await listen(app);
});
afterAll(async () => {
  for (const r of restore.splice(0)) r();
  await Promise.all(guards.map((g) => g.close()));
  await live.close();
  await as.close();
  await down.close();
});

function record(res: { headers: unknown; text?: string; body?: unknown }): void {
  captured.push(JSON.stringify(res.headers), res.text ?? JSON.stringify(res.body ?? ''));
}
async function recordError(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    const e = err as McpAuthError;
    captured.push(e.message, e.description ?? '', JSON.stringify(e), inspect(e, { depth: 10 }), String(e.stack));
  }
}

test('a battery of requests', async () => {
  const sign = tokenBuilder({ issuer: as.issuer, audience: RESOURCE });
  const now = Math.floor(Date.now() / 1000);
  const made = [
    await sign(key),
    await sign(key, { scope: 'other' }),
    await sign(key, { exp: now - 100 }),
    await sign(key, { aud: 'http://127.0.0.1:9/other' }),
    await sign(key, { iss: `${as.issuer}/` }),
    await sign(key, { nbf: now + 1000 }),
    await sign(key, { scope: {} }),
    await sign(evil, {}, { kid: key.kid }),
    await sign(evil, {}, { kid: 'unknown-kid' }),
    await sign(key, {}, { typ: 'id_token+jwt' }),
    signCompact(key, { alg: 'RS256', kid: key.kid, crit: ['x'], x: 1 }, { iss: as.issuer, aud: RESOURCE, exp: now + 60 }),
    signHmac('secret', { alg: 'HS256', kid: key.kid }, { iss: as.issuer, aud: RESOURCE, exp: now + 60 }),
    signCompact(key, { alg: 'RS256', kid: key.kid }, `{"iss":"${as.issuer}","aud":"${RESOURCE}","exp":1e400}`),
  ];
  tokens.push(...made);
  for (const token of made) {
    for (const path of ['/mcp', '/admin', '/down', '/down-jwks']) {
      record(await request(app).post(path).set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' }));
    }
    record(await request(app).post(`/mcp?access_token=${token}`).send({}));
    record(await request(app).post('/mcp').type('form').send({ access_token: token }));
    record(await request(app).post('/mcp').set('Authorization', `Bearer ${token} extra`).send({}));
    const raw = await rawRequest(`${live.url}/mcp`, 'POST', ['Authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`]);
    captured.push(JSON.stringify(raw.headers), raw.body);
    for (const g of guards) await recordError(g.verify(token));
  }
  const big = `${made[0]}${'A'.repeat(9000)}`;
  tokens.push(big);
  record(await request(app).post('/mcp').set('Authorization', `Bearer ${big}`).send({}));
  await recordError(guards[0]!.verify(big));
  for (const g of guards) await recordError(g.ready());
  expect(captured.length).toBeGreaterThan(100);
});

test('nothing captured contains a token or a signature part', () => {
  captured.push(...events.map((e) => JSON.stringify(e)));
  expect(events.length).toBeGreaterThan(0);
  const all = captured.join('\n');
  for (const token of tokens) {
    for (const hash of [createHash('sha256').update(token).digest('base64url'), createHash('sha256').update(token).digest('hex')]) {
      expect(all.includes(hash)).toBe(false);
    }
    const signature = token.split('.')[2]!;
    expect(signature.length).toBeGreaterThan(20);
    expect(all.includes(signature)).toBe(false);
    expect(all.includes(token)).toBe(false);
  }
});

test('the scan can fail: a token written to the console is found', () => {
  const before = captured.length;
  console.log(`debug ${tokens[0]}`);
  expect(captured.slice(before).join('').includes(tokens[0]!.split('.')[2]!)).toBe(true);
  captured.splice(before);
});
