/**
 * Several issuers, one of them down: its 503s go with a `keys_refresh_failed` event that names the
 * issuer (its configured value), so an operator can tell which server to look at.
 */
import request from 'supertest';
import type { GuardEvent, Options } from '../../lib/index.js';
import { buildApp, type TestApp } from '../helpers/app.js';
import { makeKey, type TestKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let a: LoopbackAS;
let b: LoopbackAS;
let keyA: TestKey;
let keyB: TestKey;
const open: TestApp[] = [];

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

test('a discovery failure of one of several issuers is reported with that issuer named', async () => {
  const events: GuardEvent[] = [];
  const t = buildApp({ resource: RESOURCE, issuer: [a.issuer, b.issuer], httpTimeoutSeconds: 2, onEvent: (e) => events.push(e) } as Options);
  open.push(t);
  b.faults.discovery = '500';
  const token = await tokenBuilder({ issuer: b.issuer, audience: RESOURCE })(keyB);
  const res = await request(t.app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  expect(res.status).toBe(503);
  const failures = events.filter((e) => e.type === 'keys_refresh_failed');
  expect(failures).toHaveLength(1);
  // Which authorization server is down? The event must say (issuer, or a URL of it).
  expect(JSON.stringify(failures[0])).toContain(b.url);
});
