/**
 * README/discovery.ts: "a discovery that timed out (or failed at the network level) is not retried
 * against the OpenID Connect path: a cold start against a hanging server fails within one
 * timeout". A metadata endpoint that sends its headers and then trickles the body is a timeout
 * too: the custom fetch turns the body-read abort into a timeout failure (it escaped as a plain
 * AbortError, so discovery fell back to the OIDC path and waited a second full timeout).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';

let server: Server;
let url = '';
const paths: string[] = [];
const sockets = new Set<Socket>();
const guards: McpAuthGuard[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"issuer":"');
    const t = setInterval(() => res.write('x'), 50); // a byte at a time, never finishing
    res.on('close', () => clearInterval(t));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all(guards.map((g) => g.close()));
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

test('trickling metadata: ready() fails within one timeout, without an OIDC fallback request', async () => {
  const g = mcpAuth({ resource: 'http://127.0.0.1:9/mcp', issuer: url, httpTimeoutSeconds: 1 });
  guards.push(g);
  const started = performance.now();
  const err = await g.ready().then(() => undefined, (e: unknown) => e);
  const elapsed = performance.now() - started;
  expect(err).toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'discovery_failed' });
  expect(paths).toEqual(['/.well-known/oauth-authorization-server']);
  expect(elapsed).toBeLessThan(1_600);
});
