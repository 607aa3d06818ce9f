/**
 * One guard, and a middleware after protect() that hooks res.writeHead (as on-headers does for
 * express-session, response-time, compression…). When the list filter steps aside on a tools/list
 * answer it leaves the later hook in place, so the hook's headers still go out.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

test('a writeHead hook installed after protect() still runs on a filtered list answer', async () => {
  const g = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { list_notes: [], admin_reset: ['admin'] } }));
  const app = express();
  app.post('/mcp', g.protect(), (_req, res, next) => {
    const prev = res.writeHead;
    res.writeHead = function hooked(this: express.Response, ...args: unknown[]) {
      this.setHeader('X-After', '1');
      return (prev as (...a: unknown[]) => express.Response).apply(this, args);
    } as typeof res.writeHead;
    next();
  }, (req, res) => {
    res.json({ jsonrpc: '2.0', id: (req.body as { id: number }).id, result: { tools: [{ name: 'list_notes' }, { name: 'admin_reset' }] } });
  });
  const token = await fx.token({ scope: 'mcp' });
  // Without a list call (no filter installed) the hook runs.
  const ping = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
  expect(ping.headers['x-after']).toBe('1');
  const list = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  expect(list.body.result.tools).toEqual([{ name: 'list_notes' }]);
  expect(list.headers['x-after']).toBe('1');
});
