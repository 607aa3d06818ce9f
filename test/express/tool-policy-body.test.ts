/** Tool policy: reading the JSON body (no parser, express.json(), other parsers), limits, media types. */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import request from 'supertest';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let token: string;

beforeAll(async () => {
  token = await fx.token({ scope: 'notes:read' });
});

interface Seen { calls: number; body: unknown; rawBody: unknown }

/** An app with `before` middleware (parsers) ahead of protect(); the handler records what it saw. */
function build(before: RequestHandler[] = [], extra: Partial<Options> = {}): { app: Express; seen: Seen } {
  const guard = mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { 'note_*': ['notes:read'] }, ...extra });
  fx.track(guard);
  const app = express();
  for (const m of before) app.use(m);
  const seen: Seen = { calls: 0, body: undefined, rawBody: undefined };
  app.post('/mcp', guard.protect(), (req, res) => {
    seen.calls++;
    seen.body = req.body;
    seen.rawBody = (req as unknown as { rawBody?: unknown }).rawBody;
    res.json({ ok: true });
  });
  app.get('/mcp', guard.protect(), (_req, res) => { seen.calls++; res.json({ ok: true }); });
  return { app, seen };
}

const allowed = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'note_get' } });
const denied = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'delete_all' } });
const post = (app: Express, body: string | Buffer, type: string | undefined = 'application/json') => {
  let r = request(app).post('/mcp').set('Authorization', `Bearer ${token}`);
  if (type !== undefined) r = r.set('Content-Type', type);
  // Bytes as given: no serializer (superagent would JSON-encode a Buffer under a JSON type).
  return r.serialize((b: unknown) => b as string).send(body);
};

describe('no parser before protect()', () => {
  test('the guard parses the body and leaves the same object on req.body, and the bytes on req.rawBody', async () => {
    const { app, seen } = build();
    const res = await post(app, allowed);
    expect(res.status).toBe(200);
    expect(seen.body).toEqual(JSON.parse(allowed));
    expect(Buffer.isBuffer(seen.rawBody) && (seen.rawBody as Buffer).toString()).toBe(allowed);
    expect((await post(app, denied)).status).toBe(403);
    expect(seen.calls).toBe(1);
  });

  test('charset utf-8 and application/…+json are JSON; a BOM is accepted', async () => {
    const { app, seen } = build();
    expect((await post(app, allowed, 'application/json; charset=UTF-8')).status).toBe(200);
    expect((await post(app, allowed, 'application/vnd.mcp+json')).status).toBe(200);
    expect((await post(app, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(denied)]))).status).toBe(403);
    expect(seen.calls).toBe(2);
  });

  test('non-JSON bodies under a policy: 415, never treated as "no tool"', async () => {
    const { app, seen } = build();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-seq', 'text/plain; a=application/json', 'application/json; charset=latin1', 'application/json, text/plain']) {
      const res = await post(app, denied, type);
      expect(res.status).toBe(415);
      expect(res.body.error.data.code).toBe('INVALID_REQUEST');
      expect(res.headers['www-authenticate']).toBeUndefined();
    }
    const noType = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).send(Buffer.from(denied));
    expect(noType.status).toBe(415);
    expect(seen.calls).toBe(0);
  });

  test('a compressed body: 415', async () => {
    const { app, seen } = build();
    const res = await request(app).post('/mcp').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send(denied);
    expect(res.status).toBe(415);
    expect(seen.calls).toBe(0);
  });

  test('bad JSON or bad UTF-8: 400 INVALID_REQUEST', async () => {
    const { app, seen } = build();
    for (const body of ['{"jsonrpc":', '{"a":1}}', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])]) {
      const res = await post(app, body);
      expect(res.status).toBe(400);
      expect(res.body.error.data.code).toBe('INVALID_REQUEST');
      expect(res.body.id).toBeNull();
    }
    expect(seen.calls).toBe(0);
  });

  test('an empty POST and a GET pass on the base scopes (nothing to run)', async () => {
    const { app, seen } = build();
    expect((await request(app).post('/mcp').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await request(app).get('/mcp').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(seen.calls).toBe(2);
  });

  test('body limit: a declared Content-Length over maxBodyBytes → 413 before reading', async () => {
    const { app, seen } = build([], { maxBodyBytes: 100 });
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'note_get', arguments: { pad: 'x'.repeat(200) } } });
    const res = await post(app, big);
    expect(res.status).toBe(413);
    expect(res.body.error.data.code).toBe('INVALID_REQUEST');
    expect((await post(app, allowed)).status).toBe(200);
    expect(seen.calls).toBe(1);
  });

  test('body limit: a chunked body that grows past maxBodyBytes → 413; the server stays usable', async () => {
    const { app, seen } = build([], { maxBodyBytes: 1000 });
    const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    try {
      const port = (server.address() as AddressInfo).port;
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"note_get","arguments":{"pad":"`);
        for (let i = 0; i < 20; i++) req.write('x'.repeat(100));
        req.end('"}}}');
      });
      expect(status).toBe(413);
      const after = await request(server).post('/mcp').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(allowed);
      expect(after.status).toBe(200);
      expect(seen.calls).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('protect() with other middleware', () => {
  test('express.json() after protect() skips the body the guard parsed; the handler sees it', async () => {
    const guard = mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { 'note_*': ['notes:read'] } });
    fx.track(guard);
    const app = express();
    let seen: unknown;
    app.post('/mcp', guard.protect(), express.json(), (req, res) => { seen = req.body; res.json({}); });
    expect((await post(app, allowed)).status).toBe(200);
    expect(seen).toEqual(JSON.parse(allowed));
    expect((await post(app, denied)).status).toBe(403);
  });

  test('protect() mounted app-wide and per route: one check, one body read', async () => {
    const guard = mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { 'note_*': ['notes:read'] } });
    fx.track(guard);
    const app = express();
    let calls = 0;
    app.use(guard.protect());
    app.post('/mcp', guard.protect(), (_req, res) => { calls++; res.json({}); });
    expect((await post(app, allowed)).status).toBe(200);
    expect((await post(app, denied)).status).toBe(403);
    expect(calls).toBe(1);
  });
});

describe('parsers before protect()', () => {
  test('express.json(): the parsed object is checked as is', async () => {
    const { app, seen } = build([express.json()]);
    expect((await post(app, allowed)).status).toBe(200);
    expect((await post(app, denied)).status).toBe(403);
    expect((await post(app, denied, 'text/plain')).status).toBe(415);
    expect(seen.calls).toBe(1);
  });

  test('express.text() / express.raw(): a string or Buffer body is never "no tool" (415 or 400)', async () => {
    const text = build([express.text({ type: '*/*' })]);
    expect((await post(text.app, denied, 'text/plain')).status).toBe(415);
    expect((await post(text.app, denied)).status).toBe(400);
    expect(text.seen.calls).toBe(0);
    const raw = build([express.raw({ type: '*/*' })]);
    expect((await post(raw.app, denied, 'application/octet-stream')).status).toBe(415);
    expect((await post(raw.app, allowed)).status).toBe(400);
    expect(raw.seen.calls).toBe(0);
  });

  test('express.urlencoded(): a form body under a policy → 415', async () => {
    const { app, seen } = build([express.urlencoded({ extended: false })]);
    const res = await post(app, 'jsonrpc=2.0&id=1&method=tools%2Fcall&params=x', 'application/x-www-form-urlencoded');
    expect(res.status).toBe(415);
    expect(seen.calls).toBe(0);
  });

  test('a parser that set req.body without reading the stream (Express 4 style {}) does not hide the body', async () => {
    const stub: RequestHandler = (req, _res, next) => { req.body = {}; next(); };
    const { app, seen } = build([stub]);
    expect((await post(app, denied)).status).toBe(403);
    expect((await post(app, allowed)).status).toBe(200);
    expect(seen.body).toEqual(JSON.parse(allowed));
    expect(seen.calls).toBe(1);
  });

  test('a body consumed by someone else without a parsed result: 400, not a pass', async () => {
    const drain: RequestHandler = (req, _res, next) => { req.resume(); req.on('end', () => next()); };
    const { app, seen } = build([drain]);
    const res = await post(app, denied);
    expect(res.status).toBe(400);
    expect(seen.calls).toBe(0);
  });
});

describe('protect({ toolPolicy: false }) on a route that is not an MCP endpoint', () => {
  test('a non-JSON POST passes there, with route scopes still enforced; the MCP route keeps the policy', async () => {
    let uploads = 0;
    const guard = mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { '*': ['mcp'] } });
    fx.track(guard);
    const app = express();
    app.post('/upload', guard.protect({ scopes: ['admin'], toolPolicy: false }), express.text(), (req, res) => { uploads++; res.json({ got: req.body }); });
    app.post('/mcp', guard.protect(), (_req, res) => { res.json({}); });
    const admin = await fx.token({ scope: 'admin' });
    const ok = await request(app).post('/upload').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'text/plain').send('hello');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ got: 'hello' });
    const noAdmin = await request(app).post('/upload').set('Authorization', `Bearer ${await fx.token({ scope: 'mcp' })}`).set('Content-Type', 'text/plain').send('hello');
    expect(noAdmin.status).toBe(403);
    expect(noAdmin.headers['www-authenticate']).toMatch(/error="insufficient_scope", .*scope="admin/);
    expect(uploads).toBe(1);
    const mcp = await request(app).post('/mcp').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'text/plain').send('{}');
    expect(mcp.status).toBe(415);
  });

  test('toolPolicy must be a boolean', () => {
    const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, toolScopes: { '*': [] } }));
    expect(() => guard.protect({ toolPolicy: 'no' as unknown as boolean })).toThrow(TypeError);
  });
});
