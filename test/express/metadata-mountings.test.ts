/**
 * protect() in a Router after a catch-all route that calls next() (req.route left set), Express 5
 * and 4: both metadata paths are answered with the document (GET, HEAD 200, OPTIONS 204), the
 * handler of a matching param route never runs; a POST to a metadata path is still checked (401),
 * also through a wrapped protect() followed by requireScopes(); a preflight elsewhere never runs a
 * route handler.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth, requireScopes } from '../../lib/index.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const PRM = '/.well-known/oauth-protected-resource';
const exps = [['E5', express, '/{*splat}'], ['E4', express4 as unknown as typeof express, '*']] as const;
const mk = () => mcpAuth({ resource: RESOURCE, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });

describe.each(exps)('%s', (_n, ex, all) => {
  test('router-in-app, catch-all before, param route: metadata answered, no handler', async () => {
    const g = mk();
    try {
      const app = ex(); let runs = 0;
      app.all(all, (_q, _s, n) => n());
      const r = ex.Router();
      r.use(g.protect({ toolPolicy: false }));
      r.get('/:a/:b/:c', (_q, s) => { runs++; s.json({ secret: 1 }); });
      r.get('/:a/:b', (_q, s) => { runs++; s.json({ secret: 1 }); });
      app.use(r);
      for (const p of [`${PRM}/mcp`, PRM]) {
        const res = await request(app).get(p);
        expect(res.body.resource).toBe(RESOURCE);
        const h = await request(app).head(p); expect(h.status).toBe(200);
        const o = await request(app).options(p); expect(o.status).toBe(204);
        const post = await request(app).post(p); expect(post.status).toBe(401);
      }
      expect(runs).toBe(0);
    } finally { await g.close(); }
  });
  test('wrapped protect in a route + requireScopes: metadata answered, POST 401', async () => {
    const g = mk();
    try {
      const app = ex(); let runs = 0;
      const p = g.protect({ toolPolicy: false });
      app.all(all, (_q, _s, n) => n());
      app.all(all, (q, s, n) => p(q, s, n), requireScopes('admin'), (_q, s) => { runs++; s.json({ secret: 1 }); });
      const res = await request(app).get(`${PRM}/mcp`);
      expect(res.body.resource).toBe(RESOURCE);
      expect((await request(app).post(`${PRM}/mcp`)).status).toBe(401);
      expect((await request(app).get('/x')).status).toBe(401);
      const pf = await request(app).options('/x').set('Origin', 'http://e.example').set('Access-Control-Request-Method', 'POST');
      expect(pf.body.secret).toBeUndefined();
      expect(runs).toBe(0);
    } finally { await g.close(); }
  });
});
