/**
 * App-wide `app.use(auth.protect())` answers `GET`/`HEAD` of its own metadata paths with the
 * document itself (the one `metadata()` serves), instead of handing them to whatever comes next: a
 * later handler whose pattern matches the path (a REST param route `/:tenant/:collection/:id`, a
 * catch-all, a reverse proxy) never runs with no token. Inside a route the rest of the route is
 * skipped (`next('route')`), as before.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PRM = '/.well-known/oauth-protected-resource';

test.each([
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
])('%s: app-wide protect(), metadata() mounted after the routes: a param route never runs without a token', async (_name, ex) => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
  try {
    const app = ex();
    let runs = 0;
    app.use(guard.protect({ toolPolicy: false }));
    app.get('/:tenant/:collection/:id', (req, res) => { runs++; res.json({ secret: true, auth: req.auth ?? null }); });
    app.use(guard.metadata());
    // Baseline: the route is protected.
    expect((await request(app).get('/acme/notes/1')).status).toBe(401);
    const res = await request(app).get(`${PRM}/mcp`);
    expect(runs).toBe(0);
    expect(res.body.secret).toBeUndefined();
  } finally {
    await guard.close();
  }
});
