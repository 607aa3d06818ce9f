/**
 * A compressor mounted after protect() (as `compression` would be) encodes an answer when the
 * request's Accept-Encoding allows it; the list filter cannot read an encoded answer and passes it
 * through (`list_unfiltered`, `encoded`). So on a request that makes list calls the guard asks for
 * `identity`: a client cannot get an unfiltered list by sending `Accept-Encoding: gzip`. Requests
 * without list calls keep their Accept-Encoding.
 */
import { gzipSync } from 'node:zlib';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);

/** A minimal `compression`: gzip the whole answer when Accept-Encoding (read at writeHead) allows it. */
const gzipAfter: RequestHandler = (req, res, next) => {
  const { write, end } = res;
  const chunks: Buffer[] = [];
  res.write = function (chunk: unknown) { chunks.push(Buffer.from(chunk as Buffer)); return true; } as typeof res.write;
  res.end = function (this: express.Response, chunk?: unknown) {
    if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as Buffer));
    const body = Buffer.concat(chunks);
    res.write = write;
    res.end = end;
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      const zipped = gzipSync(body);
      res.setHeader('Content-Encoding', 'gzip');
      res.setHeader('Content-Length', String(zipped.length));
      return (end as (c: unknown) => express.Response).call(this, zipped);
    }
    return (end as (c: unknown) => express.Response).call(this, body);
  } as typeof res.end;
  next();
};

function app(events: GuardEvent[]): express.Express {
  const g = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { list_notes: [], admin_reset: ['admin'] }, onEvent: (e) => { events.push(e); } }));
  const a = express();
  a.post('/mcp', g.protect(), express.json(), gzipAfter, (req, res) => {
    const body = req.body as { id: number; method: string };
    if (body.method === 'tools/list') res.json({ jsonrpc: '2.0', id: body.id, result: { tools: [{ name: 'list_notes' }, { name: 'admin_reset' }] } });
    else res.json({ jsonrpc: '2.0', id: body.id, result: {} });
  });
  return a;
}

test('Accept-Encoding: gzip on a tools/list request: the answer is filtered (the compressor is asked for identity)', async () => {
  const events: GuardEvent[] = [];
  const token = await fx.token({ scope: 'mcp' });
  const res = await request(app(events)).post('/mcp').set('Authorization', `Bearer ${token}`).set('Accept-Encoding', 'gzip')
    .send({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  expect(res.status).toBe(200);
  expect(res.headers['content-encoding']).toBeUndefined();
  // (superagent would have inflated a gzip answer: the names are read either way.)
  expect((res.body as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(['list_notes']);
  expect(events.filter((e) => e.type === 'list_unfiltered')).toEqual([]);
});

test('a request without list calls keeps its Accept-Encoding (still compressed)', async () => {
  const token = await fx.token({ scope: 'mcp' });
  const res = await request(app([])).post('/mcp').set('Authorization', `Bearer ${token}`).set('Accept-Encoding', 'gzip')
    .send({ jsonrpc: '2.0', id: 2, method: 'ping' });
  expect(res.status).toBe(200);
  expect(res.headers['content-encoding']).toBe('gzip');
  expect(res.body).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
});
