/**
 * `metadata()` mounted at its own path serves the document also for a resource ending in `/`
 * (`https://host/mcp/`, path-form metadata URL `/.well-known/oauth-protected-resource/mcp/`, RFC
 * 9728 §3.1). Express drops the mount path's trailing slash from `req.baseUrl` and sets `req.path`
 * to "/": the served path is read from the request's own path. App-wide, the same guard serves it:
 * the two documented mountings agree.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';

const PRM = '/.well-known/oauth-protected-resource';
let server: Server;
let base: string;
let guard: McpAuthGuard;

beforeAll(async () => {
  const holder = express();
  server = await new Promise((resolve) => { const s = holder.listen(0, '127.0.0.1', () => resolve(s)); });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  guard = mcpAuth({ resource: `${base}/mcp/`, issuer: 'https://auth.example.com', jwksUri: 'https://auth.example.com/jwks' });
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test('control: the path form of a trailing-slash resource is /.well-known/oauth-protected-resource/mcp/, served app-wide', async () => {
  expect(guard.config.resourceMetadataPaths).toContain(`${PRM}/mcp/`);
  const app = express();
  app.use(guard.metadata());
  const res = await request(app).get(`${PRM}/mcp/`);
  expect(res.status).toBe(200);
  expect(res.body.resource).toBe(`${base}/mcp/`);
});

test.each([
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
])('%s: metadata() mounted at its own path (the trailing-slash path form) serves the document', async (_name, ex) => {
  const app = ex();
  app.use(`${PRM}/mcp/`, guard.metadata());
  app.use((_req, res) => { res.status(404).json({ fallthrough: true }); });
  const get = await request(app).get(`${PRM}/mcp/`);
  expect(get.status).toBe(200);
  expect(get.body.resource).toBe(`${base}/mcp/`);
  const head = await request(app).head(`${PRM}/mcp/`);
  expect(head.status).toBe(200);
  const preflight = await request(app).options(`${PRM}/mcp/`).set('Origin', 'https://app.example').set('Access-Control-Request-Method', 'GET');
  expect(preflight.status).toBe(204);
});
