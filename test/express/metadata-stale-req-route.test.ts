/**
 * README: mounted app-wide, protect() "answers GET/HEAD/OPTIONS of its own metadata paths itself
 * ... (so no later handler whose route matches those paths gets them without a token)". That holds
 * also after an earlier route called next() (`app.all('*', setHeaders)` in Express 4,
 * `app.all('/{*splat}', …)` in Express 5): Express leaves `req.route` set, so protect() does not
 * decide by it; it answers every metadata request with the document itself.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PRM = '/.well-known/oauth-protected-resource';

test.each([
  ['Express 5', express, '/{*splat}'],
  ['Express 4', express4 as unknown as typeof express, '*'],
])('%s: an earlier route that calls next() does not make app-wide protect() hand the metadata path to a later route', async (_name, ex, all) => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
  try {
    const app = ex();
    let runs = 0;
    app.all(all, (_req, res, next) => { res.setHeader('X-Content-Type-Options', 'nosniff'); next(); });
    app.use(guard.protect({ toolPolicy: false }));
    app.get('/:tenant/:collection/:id', (req, res) => { runs++; res.json({ secret: true, auth: req.auth ?? null }); });
    app.use(guard.metadata());
    // Baseline: the param route is protected.
    expect((await request(app).get('/acme/notes/1')).status).toBe(401);
    const res = await request(app).get(`${PRM}/mcp`);
    expect(res.body.secret).toBeUndefined();
    expect(runs).toBe(0);
    expect(res.body.resource).toBe(RESOURCE);
  } finally {
    await guard.close();
  }
});
