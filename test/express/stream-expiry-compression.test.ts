/**
 * Stream expiry holds with a middleware after `protect()` that wraps `res.write`: a byte counter,
 * and a gzip compressor in `compression`'s pattern (its zlib output goes through the `res.write`
 * it captured, the guard's wrapper, and it flushes with `res.flush()`). Behind one that pauses its
 * zlib stream when `res.write` returns false and resumes on 'drain' (`compression` itself), a
 * dropped write returns true, since no 'drain' will follow, so the answer still ends.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createGzip, gunzipSync, type Gzip } from 'node:zlib';
import express, { type RequestHandler, type Response } from 'express';
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';
import { openStream, push } from '../helpers/sse-client.js';
import { compressionLike } from '../helpers/compression-like.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
let open: Response | undefined;
let srv: Listening;
let zs: Gzip | undefined;

/** A pass-through hook on res.write, as byte counters and loggers install. */
const countBytes: RequestHandler = (_req, res, next) => {
  const write = res.write;
  res.write = function counted(this: Response, ...args: unknown[]) {
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Response['write'];
  next();
};

/** compression's pattern, reduced: gzip through a zlib stream, output written with the captured res.write, res.flush(). */
const gzip: RequestHandler = (_req, res, next) => {
  const write = res.write.bind(res) as (c: unknown) => boolean;
  const end = res.end.bind(res) as () => Response;
  const z = createGzip();
  z.on('data', (c: Buffer) => { write(c); });
  z.on('end', () => end());
  res.setHeader('Content-Encoding', 'gzip');
  res.write = function compressed(chunk: unknown) { return z.write(chunk as Buffer); } as Response['write'];
  res.end = function compressedEnd() { z.end(); return res; } as Response['end'];
  (res as unknown as { flush: () => void }).flush = () => z.flush();
  next();
};

/** compression@1.x's pattern (`test/helpers/compression-like.ts`), this suite's zlib stream kept in `zs`. */
const compressionLikeHere: RequestHandler = compressionLike({ onStream: (stream) => { zs = stream; } });

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const app = express();
  const handler: RequestHandler = (_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    open = res;
  };
  app.get('/counted', auth.protect(), countBytes, handler);
  app.get('/gzip', auth.protect(), gzip, handler);
  app.get('/compression', auth.protect(), compressionLikeHere, handler);
  srv = await listen(app);
});
afterAll(() => srv.close());

const tokenFor = (seconds: number) => fx.token({ iat: clock.seconds(), exp: clock.seconds() + seconds });

test('a res.write hook after protect(): the GET stream still ends at the first write after exp', async () => {
  const s = await openStream(`${srv.url}/counted`, await tokenFor(60), 'GET');
  await push(s, open!, 'first');
  clock.advance(66_000);
  await push(s, open!, 'after-expiry');
  expect(s.text()).toBe('data: first\n\n');
  if (!open!.writableEnded) open!.end();
});

test('a compressor after protect(): the GET stream still ends after exp', async () => {
  const bytes: Buffer[] = [];
  const res = await new Promise<IncomingMessage>(async (resolve, reject) => {
    const req = httpRequest(`${srv.url}/gzip`, { headers: { Authorization: `Bearer ${await tokenFor(60)}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.on('data', (c: Buffer) => bytes.push(c));
  let ended = false;
  res.on('end', () => { ended = true; });
  const decoded = () => gunzipSync(Buffer.concat(bytes), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString();
  /** Until the client decoded `marker` or the response ended. */
  const until = (marker: string) => new Promise<void>((r) => {
    const check = () => { if (ended || (bytes.length > 0 && decoded().includes(marker))) { res.off('data', onData); r(); } };
    const onData = () => setImmediate(check);
    res.on('data', onData);
    res.on('end', check);
  });
  let next = until('first');
  open!.write('data: first\n\n');
  (open as unknown as { flush: () => void }).flush();
  await next;
  expect(decoded()).toBe('data: first\n\n');
  clock.advance(66_000);
  next = until('after-expiry');
  open!.write('data: after-expiry\n\n');
  (open as unknown as { flush: () => void }).flush();
  await next;
  expect(decoded()).not.toContain('after-expiry');
  if (!open!.writableEnded) open!.end();
});

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
