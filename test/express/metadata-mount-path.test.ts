/**
 * `metadata()` (and `protect()`'s pass-through) compare the request's path from the app's root
 * with the well-known paths. Mounted with a path that is the well-known path itself (or its root
 * form), Express sets `req.path` to "/": comparing `req.baseUrl + req.path` never matched, the
 * request fell through to the app's 404, and an MCP client (SDK
 * `discoverOAuthProtectedResourceMetadata`) found no metadata. An absolute-form request target
 * (`GET http://host/path`) is routed by its path, as Express routes it.
 */
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';

const PRM = '/.well-known/oauth-protected-resource';
let server: Server;
let base: string;
let guard: McpAuthGuard;
const apps: Record<string, express.Express> = {};

beforeAll(async () => {
  const holder = express();
  server = await new Promise((resolve) => { const s = holder.listen(0, '127.0.0.1', () => resolve(s)); });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  guard = mcpAuth({ resource: `${base}/mcp`, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
  const fallthrough: express.RequestHandler = (_req, res) => { res.status(404).json({ fallthrough: true }); };
  apps.exact = express();
  apps.exact.use(`${PRM}/mcp`, guard.metadata());
  apps.exact.use(fallthrough);
  apps.root = express();
  apps.root.use(PRM, guard.metadata());
  apps.root.use(fallthrough);
  holder.use((req, res, next) => { apps.exact!(req, res, next); });
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test.each([
  ['exact', `${PRM}/mcp`],
  ['root', PRM],
])('mounted with app.use(path) (%s): GET %s serves the RFC 9728 document', async (which, path) => {
  const res = await request(apps[which]!).get(path);
  expect(res.status).toBe(200);
  expect(res.body.resource).toBe(`${base}/mcp`);
});

test('the real SDK client discovers the metadata of an app that mounts metadata() at its path', async () => {
  const doc = await discoverOAuthProtectedResourceMetadata(new URL(`${base}/mcp`), { resourceMetadataUrl: new URL(`${base}${PRM}/mcp`) });
  expect(doc.resource).toBe(`${base}/mcp`);
});

test('an absolute-form request target (RFC 9112 §3.2.2) gets the document; app-wide protect() lets it through', async () => {
  const app = express();
  app.use(guard.metadata());
  app.use(guard.protect());
  const srv: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  try {
    const port = (srv.address() as AddressInfo).port;
    const status = await new Promise<number>((resolve, reject) => {
      const r = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: `http://127.0.0.1:${port}${PRM}/mcp?x=1` }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      r.on('error', reject);
      r.end();
    });
    expect(status).toBe(200);
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});
