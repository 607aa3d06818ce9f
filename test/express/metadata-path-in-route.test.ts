/**
 * protect() inside a route's own stack whose path also matches a metadata path (a catch-all such as
 * `app.get('/*splat', auth.protect(), handler)`, `app.get('*', …)` in Express 4, a regexp route):
 * a tokenless GET of `/.well-known/oauth-protected-resource[/mcp]` is answered by protect() with
 * the document itself, so the protected handler never runs.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test.each([
  ['Express 5, app.get("/*splat")', express, '/*splat', '/.well-known/oauth-protected-resource/mcp'],
  ['Express 5, app.get("/*splat"), root form', express, '/*splat', '/.well-known/oauth-protected-resource'],
  ['Express 4, app.get("*")', express4, '*', '/.well-known/oauth-protected-resource/mcp'],
  ['Express 5, regexp route', express, /.*/, '/.well-known/oauth-protected-resource/mcp'],
] as const)('%s: a tokenless GET of a metadata path never runs the protected handler', async (_label, ex, path, target) => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer }));
  const app = ex();
  let runs = 0;
  const handler = (_req: express.Request, res: express.Response): void => { runs++; res.json({ secret: 'protected data' }); };
  app.get(path as string, guard.protect(), handler);

  // Baseline: the same route refuses a tokenless GET elsewhere.
  const other = await request(app).get('/reports');
  expect(other.status).toBe(401);
  expect(runs).toBe(0);

  const res = await request(app).get(target);
  expect(runs).toBe(0);
  expect(res.body).not.toEqual({ secret: 'protected data' });
});

test('a catch-all protected route before metadata(): the document is still served, the handler never runs', async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer }));
  const app = express();
  let runs = 0;
  app.get('/*splat', guard.protect(), (_req, res) => { runs++; res.json({ secret: 'protected data' }); });
  app.use(guard.metadata());
  const res = await request(app).get('/.well-known/oauth-protected-resource/mcp');
  expect(res.status).toBe(200);
  expect(res.body.resource).toBe(RESOURCE);
  const head = await request(app).head('/.well-known/oauth-protected-resource/mcp');
  expect(head.status).toBe(200);
  expect(runs).toBe(0);
});
