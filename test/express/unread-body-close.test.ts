/**
 * An error answer to a request whose body is still unread and larger than the guard would ever read
 * (declared over `maxBodyBytes`, or chunked: length unknown) closes the connection
 * (`Connection: close`), so Node does not read and discard the whole declared body on behalf of a
 * client without a token (here 1 GB declared, 32 MiB pushed). Small bodies keep the connection
 * alive (an MCP client's 401 before its OAuth flow). Counted with the server socket's `bytesRead`,
 * no timing.
 */
import express from 'express';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { makeKey } from '../helpers/keys.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { tokenBuilder } from '../helpers/tokens.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
let as: LoopbackAS;
let token: string;
let guard: McpAuthGuard;
let server: Server;
let port: number;
const serverSockets: Socket[] = [];
let handled = 0;

beforeAll(async () => {
  as = await startLoopbackAS();
  const key = await makeKey('ES256');
  as.keys = [key.publicJwk];
  token = await tokenBuilder({ issuer: as.issuer, audience: RESOURCE })(key, { scope: 'a' });
  guard = mcpAuth({ resource: RESOURCE, issuer: as.issuer, jwksUri: as.jwksUri, toolScopes: { x: ['a'] }, maxBodyBytes: 1024 });
  await guard.ready();
  const app = express();
  app.post('/mcp', guard.protect(), (_req, res) => { handled++; res.json({}); });
  server = createServer(app);
  server.on('connection', (s) => serverSockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await guard.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await as.close();
});

/** Send the head, then push up to `mib` MiB of body with backpressure; resolve with what the server read. */
async function push(head: string, mib: number): Promise<{ response: string; serverRead: number }> {
  const sock = connect(port, '127.0.0.1');
  let response = '';
  let closed = false;
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => { response += d; });
  sock.on('close', () => { closed = true; });
  sock.on('error', () => { closed = true; });
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const before = serverSockets.length;
  sock.write(head);
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  for (let i = 0; i < mib * 16 && !closed; i++) {
    if (!sock.write(chunk)) await new Promise<void>((resolve) => { sock.once('drain', () => resolve()); sock.once('close', () => resolve()); });
  }
  const serverSock = serverSockets[before - 1] ?? serverSockets[serverSockets.length - 1]!;
  const serverRead = serverSock.bytesRead;
  sock.destroy();
  return { response, serverRead };
}

test('401 to a request with a 1 GB body: the server stops reading it (Connection: close)', async () => {
  const { response, serverRead } = await push('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n', 32);
  expect(response).toMatch(/^HTTP\/1\.1 401/);
  expect(response).toMatch(/\r\nconnection: close\r\n/i);
  expect(serverRead).toBeLessThan(8 * 1024 * 1024);
});

test('413 for a declared length over maxBodyBytes: the server stops reading it (Connection: close)', async () => {
  const { response, serverRead } = await push(`POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n`, 32);
  expect(response).toMatch(/^HTTP\/1\.1 413/);
  expect(response).toMatch(/\r\nconnection: close\r\n/i);
  expect(serverRead).toBeLessThan(8 * 1024 * 1024);
  expect(handled).toBe(0);
});

test('control: a 401 to a small body keeps the connection alive (no Connection: close)', async () => {
  const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
  const sock = connect(port, '127.0.0.1');
  sock.setEncoding('latin1');
  let response = '';
  await new Promise<void>((resolve) => {
    sock.on('data', (d: string) => { response += d; if (response.includes('"jsonrpc"') && response.endsWith('}')) resolve(); });
    sock.write(`POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  });
  sock.destroy();
  expect(response).toMatch(/^HTTP\/1\.1 401/);
  expect(response).not.toMatch(/\r\nconnection: close\r\n/i);
});

test('401 to a chunked body (length unknown) still being sent: Connection: close', async () => {
  const { response, serverRead } = await push('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n', 32);
  expect(response).toMatch(/^HTTP\/1\.1 401/);
  expect(response).toMatch(/\r\nconnection: close\r\n/i);
  expect(serverRead).toBeLessThan(8 * 1024 * 1024);
});
