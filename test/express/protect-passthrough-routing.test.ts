/**
 * protect() mounted app-wide lets GET of the metadata paths through unchecked: it must compare the
 * path Express routes by (`req.baseUrl + req.path`), nothing else. A version that compared
 * `req.originalUrl` (normalized with WHATWG `new URL(...).pathname` for absolute-form targets) let
 * `GET http://host/api/../.well-known/oauth-protected-resource/mcp` through while Express routed
 * it to `app.use('/api', …)`, and likewise a request whose `req.url` an earlier middleware
 * rewrote: the handler ran with no token.
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';

const PRM = '/.well-known/oauth-protected-resource';
let server: Server;
let base: string;
let port: number;
let guard: McpAuthGuard;
let reached = 0;
let rewriteServer: Server;
let rewritePort: number;

function raw(target: string, p = port): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: p, method: 'GET', path: target, headers: { host: `127.0.0.1:${p}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const app = express();
  server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  guard = mcpAuth({ resource: `${base}/mcp`, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
  // README: "Mounted app-wide (app.use(auth.protect())) it lets the metadata paths ... through untouched."
  app.use(guard.protect({ toolPolicy: false }));
  app.use('/api', (_req, res) => { reached++; res.status(200).json({ secret: true }); });
  app.use(guard.metadata());
  app.use((_req, res) => { res.status(404).end(); });

  // An app whose earlier middleware rewrites req.url (API versioning by prefix): Express routes req.url.
  const app2 = express();
  app2.use((req, _res, next) => { req.url = `/v2${req.url}`; next(); });
  app2.use(guard.protect({ toolPolicy: false }));
  app2.use('/v2', (_req, res) => { reached++; res.status(200).json({ secret: true }); });
  rewriteServer = await new Promise((resolve) => { const s = app2.listen(0, '127.0.0.1', () => resolve(s)); });
  rewritePort = (rewriteServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rewriteServer.closeAllConnections();
  await new Promise<void>((r) => rewriteServer.close(() => r()));
});

test('baseline: GET /api without a token is 401', async () => {
  const res = await raw('/api/x');
  expect(res.status).toBe(401);
});

test.each([
  `/api/../${PRM.slice(1)}/mcp`,
  `/api/%2e%2e${PRM}/mcp`,
])('absolute-form GET http://host%s reaches no protected handler without a token', async (path) => {
  const before = reached;
  const res = await raw(`${base}${path}`);
  expect(reached).toBe(before);
  expect(res.status).not.toBe(200);
});

test('req.url rewritten before protect(): a request Express routes to /v2/… is checked although originalUrl is a metadata path', async () => {
  expect((await raw('/x', rewritePort)).status).toBe(401);
  const before = reached;
  const res = await raw(`${PRM}/mcp`, rewritePort);
  expect(reached).toBe(before);
  expect(res.status).toBe(401);
});
