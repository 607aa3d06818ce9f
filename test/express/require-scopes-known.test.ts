/**
 * A 403 repeats the scopes the token was granted that the server knows, so a client that steps up
 * keeps what it had; scopes required through `requireScopes()` are known too, as those of
 * `protect({ scopes })` are. Before, a token holding `admin` (another route's `requireScopes`)
 * refused by `requireScopes('billing')` was told `scope="billing mcp"`: a 2025-11-25 client takes
 * the challenge's scope as its new one, loses `admin`, and the two routes send it back and forth.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth, requireScopes } from '../../lib/index.js';
import { parseChallenge } from '../helpers/challenge.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const PING = { jsonrpc: '2.0', id: 1, method: 'ping' };

function app(routeScopes: boolean) {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, requiredScopes: ['mcp'] }));
  const a = express();
  const ok: express.RequestHandler = (_req, res) => { res.json({ ok: true }); };
  a.post('/admin', guard.protect(), requireScopes('admin'), ok);
  a.post('/billing', guard.protect(), requireScopes('billing'), ok);
  if (routeScopes) {
    a.post('/admin-route', guard.protect({ scopes: ['admin'] }), ok);
    a.post('/billing-route', guard.protect({ scopes: ['billing'] }), ok);
  }
  return a;
}

test("control: protect({ scopes }) routes: the 403 keeps the other route's scope the token holds", async () => {
  const a = app(true);
  const token = await fx.token({ scope: 'mcp admin' });
  expect((await request(a).post('/admin-route').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  const res = await request(a).post('/billing-route').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(403);
  expect(parseChallenge(res.headers['www-authenticate']).params.scope!.split(' ').sort()).toEqual(['admin', 'billing', 'mcp']);
});

test("requireScopes() routes: the 403 keeps the scope another requireScopes() let the token use", async () => {
  // (A guard without protect({ scopes }) routes: one naming 'admin' would make it known.)
  const a = app(false);
  const token = await fx.token({ scope: 'mcp admin' });
  expect((await request(a).post('/admin').set('Authorization', `Bearer ${token}`).send(PING)).status).toBe(200);
  const res = await request(a).post('/billing').set('Authorization', `Bearer ${token}`).send(PING);
  expect(res.status).toBe(403);
  const scope = parseChallenge(res.headers['www-authenticate']).params.scope!;
  expect(scope.split(' ').sort()).toEqual(['admin', 'billing', 'mcp']);

  // What a client that takes the challenge's scope gets: a token the admin route now refuses.
  const stepped = await fx.token({ scope });
  expect((await request(a).post('/admin').set('Authorization', `Bearer ${stepped}`).send(PING)).status).toBe(200);
});
