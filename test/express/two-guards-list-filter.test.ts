/**
 * Two guards on one route (app-wide guard A, route guard B with a stricter tool policy; a token
 * whose `aud` names both resources): each guard's policy filters `tools/list`. The list filter's
 * "already installed" marker was one module-wide symbol, so A's filter went in first and B's was
 * skipped: the list showed tools B's policy forbids (B still refused the call itself). The marker
 * is per guard now; the same guard twice on a route still wraps the response once.
 */
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const ADMIN = 'http://127.0.0.1:9/admin';
const fx = loopbackJwtSuite(RESOURCE);
const TOOLS = [{ name: 'list_notes', inputSchema: { type: 'object' } }, { name: 'admin_reset', inputSchema: { type: 'object' } }];

test.each([['Express 5', express], ['Express 4', express4]] as const)('%s: the route guard\'s policy filters tools/list after an app-wide guard', async (_label, ex) => {
  const a = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { '*': [] } }));
  const b = fx.track(mcpAuth({ resource: ADMIN, issuer: fx.as.issuer, toolScopes: { list_notes: [], admin_reset: ['admin'] } }));
  const app = ex();
  let runs = 0;
  app.use(a.protect());
  app.post('/mcp', b.protect(), (req: express.Request, res: express.Response) => {
    runs++;
    res.json({ jsonrpc: '2.0', id: (req.body as { id: number }).id, result: { tools: TOOLS } });
  });
  const token = await fx.token({ aud: [RESOURCE, ADMIN], scope: 'mcp' });

  // Guard B's policy is enforced on the call: the token may not call admin_reset.
  const denied = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`)
    .send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'admin_reset', arguments: {} } });
  expect(denied.status).toBe(403);
  expect(denied.body.error.data.code).toBe('FORBIDDEN');
  expect(runs).toBe(0);

  const list = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  expect(list.status).toBe(200);
  expect(runs).toBe(1);
  expect(list.body.result.tools.map((t: { name: string }) => t.name)).toEqual(['list_notes']);
});

test('the same guard twice on a route (app-wide and per route) wraps the answer once: one filtered list', async () => {
  const b = fx.track(mcpAuth({ resource: ADMIN, issuer: fx.as.issuer, toolScopes: { list_notes: [], admin_reset: ['admin'] } }));
  const app = express();
  app.use(b.protect());
  app.post('/mcp', b.protect({ scopes: ['mcp'] }), (req, res) => {
    res.json({ jsonrpc: '2.0', id: (req.body as { id: number }).id, result: { tools: TOOLS } });
  });
  const token = await fx.token({ aud: ADMIN, scope: 'mcp' });
  const list = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  expect(list.status).toBe(200);
  expect(list.body).toEqual({ jsonrpc: '2.0', id: 2, result: { tools: [TOOLS[0]] } });
  expect(list.headers['content-length']).toBe(String(Buffer.byteLength(list.text)));
});
