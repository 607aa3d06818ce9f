/**
 * protect() inside a route's own stack (`app.all('/admin/reset', auth.protect({ scopes }), handler)`):
 * a tokenless CORS preflight (`OPTIONS` + `Access-Control-Request-Method`, no body) skips the rest
 * of that route (`next('route')`), so the handler never runs without a token and `req.auth` (it
 * used to be waved through to the handler, which ran with no token). Mounted with `app.use`, the
 * guard still passes preflights on, as documented.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test.each([
  ['Express 5, app.all', express, 'all'],
  ['Express 4, app.all', express4, 'all'],
  ['Express 5, app.route().all', express, 'route'],
  ['Express 4, app.route().all', express4, 'route'],
] as const)('%s: a tokenless preflight never runs the protected handler', async (_label, ex, how) => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer }));
  const app = ex();
  let runs = 0;
  let sawAuth: unknown = 'unset';
  const handler = (req: express.Request, res: express.Response): void => { runs++; sawAuth = req.auth; res.json({ reset: true }); };
  if (how === 'all') app.all('/admin/reset', guard.protect({ scopes: ['admin'] }), handler);
  else app.route('/admin/reset').all(guard.protect({ scopes: ['admin'] }), handler);

  // Baseline: the same route refuses a tokenless POST.
  const post = await request(app).post('/admin/reset');
  expect(post.status).toBe(401);
  expect(post.body.error.data.code).toBe('UNAUTHORIZED');
  expect(runs).toBe(0);

  const res = await request(app).options('/admin/reset').set('Origin', 'http://evil.example').set('Access-Control-Request-Method', 'POST');
  expect(runs).toBe(0);
  expect(sawAuth).toBe('unset');
  expect(res.body).not.toEqual({ reset: true });
});
