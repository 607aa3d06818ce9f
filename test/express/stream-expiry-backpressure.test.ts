/**
 * An expired stream ends also behind a compressor in the `compression` package's exact pattern
 * (it pauses its zlib stream when `res.write` returns false and resumes on 'drain'; its 'end'
 * calls `end` on `res`): a dropped write returns true, since no 'drain' will ever follow, so the
 * compressor's stream is never left paused and the answer ends.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createGzip, type Gzip } from 'node:zlib';
import express, { type RequestHandler, type Response } from 'express';
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
let open: Response | undefined;
let zs: Gzip | undefined;
let srv: Listening;

/** compression@1.x's write/end/drain/pause pattern (gzip always, no filter/threshold). */
function compressionLike(pauseOnFalse: boolean): RequestHandler {
  return (_req, res, next) => {
    const write = res.write as (...a: unknown[]) => boolean;
    const end = res.end as (...a: unknown[]) => Response;
    const on = res.on;
    let ended = false;
    const stream = createGzip();
    zs = stream;
    res.setHeader('Content-Encoding', 'gzip');
    (res as unknown as { flush: () => void }).flush = () => stream.flush();
    res.write = function (this: Response, chunk: unknown) {
      if (ended) return false;
      return stream.write(chunk as Buffer);
    } as Response['write'];
    res.end = function (this: Response, chunk?: unknown) {
      if (ended) return false as unknown as Response;
      ended = true;
      if (chunk) stream.end(chunk as Buffer); else stream.end();
      return res;
    } as Response['end'];
    stream.on('data', (chunk: Buffer) => { if (write.call(res, chunk) === false && pauseOnFalse) stream.pause(); });
    stream.on('end', () => { end.call(res); });
    on.call(res, 'drain', () => stream.resume());
    next();
  };
}

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const app = express();
  const handler: RequestHandler = (_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    open = res;
  };
  app.get('/compression', auth.protect(), compressionLike(true), handler);
  srv = await listen(app);
});
afterAll(() => srv.close());

async function get(path: string): Promise<{ res: IncomingMessage; bytes: Buffer[]; ended: () => boolean }> {
  const token = await fx.token({ iat: clock.seconds(), exp: clock.seconds() + 60 });
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(`${srv.url}${path}`, { headers: { Authorization: `Bearer ${token}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
  const bytes: Buffer[] = [];
  let ended = false;
  res.on('data', (c: Buffer) => bytes.push(c));
  res.on('end', () => { ended = true; });
  return { res, bytes, ended: () => ended };
}

/** Let I/O and zlib's thread pool run: up to `n` turns until `done()` (no timers). */
async function turns(done: () => boolean, n = 200): Promise<void> {
  for (let i = 0; i < n && !done(); i++) await new Promise((r) => setImmediate(r));
}

test('compression after protect(): the expired GET stream is ended (not paused for ever)', async () => {
  const c = await get('/compression');
  open!.write('data: first\n\n');
  (open as unknown as { flush: () => void }).flush();
  await turns(() => c.bytes.length > 1);
  clock.advance(66_000);
  open!.write('data: after-expiry\n\n');
  (open as unknown as { flush: () => void }).flush();
  const z = zs!;
  // Ends (a paused compressor would leave it open: the test then times out).
  if (!c.ended()) await new Promise<void>((r) => c.res.on('end', () => r()));
  if (!open!.writableFinished) await new Promise<void>((r) => open!.on('finish', () => r()));
  expect(z.isPaused()).toBe(false);
  expect(open!.writableFinished).toBe(true);
  expect(c.ended()).toBe(true);
});
