/**
 * README, Integration: "The parser comes after protect(): no body is read before the token is
 * checked", and Request bodies: "A parser mounted before protect() reads every body first,
 * unauthenticated, and answers malformed or oversized bodies itself, in its own format (Express's:
 * HTML, no challenge, before the 401 a missing token would get)". The demo's MCP server
 * (examples/mcp-server.ts, the README's reference for `npm start` and "the pieces"), mounts
 * `express.json({ limit: '4mb' })` app-wide before `guard.protect()`: an unauthenticated POST with
 * a malformed body gets Express's 400 instead of the guard's 401 challenge, the very behaviour the
 * README warns about.
 */
import { startMcpServer, type DemoMcpServer } from '../../examples/mcp-server.js';

let mcp: DemoMcpServer;
beforeAll(async () => {
  // Nothing is fetched at construction; a request without a token never reaches the issuer.
  mcp = await startMcpServer({ env: { MCP_AUTH_ISSUER: 'http://127.0.0.1:9' }, port: 0 });
});
afterAll(async () => { await mcp.close(); });

test('control: an unauthenticated POST with a JSON body gets the guard\'s 401 challenge', async () => {
  const res = await fetch(mcp.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
});

test('an unauthenticated POST with a malformed body: the guard answers 401 with its challenge, the body is not parsed first', async () => {
  const res = await fetch(mcp.url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"jsonrpc":' });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata=/);
});
