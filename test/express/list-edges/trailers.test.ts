/**
 * A JSON list answer sent without a Content-Length is chunked by Node, which is what lets a handler
 * send trailers (`res.addTrailers`, announced with a `Trailer` header or not). A filtered answer
 * keeps that framing: it stays chunked, and the trailers go out.
 */
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express, RequestHandler } from 'express';
import { build, listAnswer, useEnv } from './setup.js';

const env = useEnv();

function post(app: Express): Promise<{ status: number; body: string; trailers: IncomingMessage['trailers'] }> {
  return new Promise((resolve, reject) => {
    const server: Server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
      const req = httpRequest({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: {
        Authorization: `Bearer ${env.token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => { server.close(); resolve({ status: res.statusCode!, body: text, trailers: res.trailers }); });
        res.on('error', (e) => { server.close(); reject(e); });
      });
      req.on('error', (e) => { server.close(); reject(e); });
      req.end(body);
    });
  });
}

describe('trailers on a filtered JSON answer', () => {
  test.each([
    ['with a Trailer header', true],
    ['without a Trailer header', false],
  ])('%s: the answer is sent with its trailer', async (_label, announce) => {
    const handler: RequestHandler = (_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      if (announce) res.setHeader('Trailer', 'X-Checksum');
      res.write(listAnswer(1));
      res.addTrailers({ 'X-Checksum': 'abc' });
      // Without this catch, Express's finalhandler throws the same error again from a setImmediate
      // (uncaught) while sending its 500, and the request never gets an answer.
      try {
        res.end();
      } catch (err) {
        thrown = err;
        res.destroy();
      }
    };
    let thrown: unknown;
    const got = await post(build(env, handler)).catch((err: unknown) => ({ status: 0, body: String(err), trailers: {} as IncomingMessage['trailers'] }));
    expect(thrown).toBeUndefined();
    expect(got.status).toBe(200);
    expect((JSON.parse(got.body) as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(['note_get']);
    expect(got.trailers['x-checksum']).toBe('abc');
  });
});
