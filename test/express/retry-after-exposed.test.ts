/**
 * A 503 carries `Retry-After` (DESIGN wire table, checklist 13), and the guard takes care of
 * exposing its response headers to browsers (`Access-Control-Expose-Headers: WWW-Authenticate`,
 * checklist 15). `Retry-After` is not a CORS-safelisted response header (Fetch §2.2.6: only
 * Cache-Control, Content-Language, Content-Length, Content-Type, Expires, Last-Modified, Pragma),
 * so a browser-based MCP client (the Inspector, a web app) cannot read the one header the 503 is
 * there to give it unless it is exposed too.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let down: LoopbackAS;
beforeAll(async () => { down = await startLoopbackAS(); down.faults.jwks = '500'; });
afterAll(async () => { await down.close(); });

test('503 AUTH_UNAVAILABLE: Retry-After is set and exposed to browsers', async () => {
  const guard = mcpAuth({ resource: RESOURCE, issuer: down.issuer, jwksUri: down.jwksUri });
  try {
    const app = express();
    let runs = 0;
    app.post('/mcp', guard.protect(), (_req, res) => { runs++; res.json({}); });
    const key = await makeKey('RS256');
    const token = await tokenBuilder({ issuer: down.issuer, audience: RESOURCE })(key);
    const res = await request(app).post('/mcp').set('Origin', 'https://inspector.example').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.status).toBe(503);
    expect(runs).toBe(0);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const exposed = String(res.headers['access-control-expose-headers'] ?? '').split(',').map((s) => s.trim().toLowerCase());
    expect(exposed).toContain('www-authenticate');
    expect(exposed).toContain('retry-after');
  } finally {
    await guard.close();
  }
});
