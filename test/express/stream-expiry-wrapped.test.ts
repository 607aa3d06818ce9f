/**
 * A GET event stream ends at its token's expiry also when something mounted after `protect()`
 * wraps `res.write` in turn (a byte-counting logger, `compression`, a metrics hook): that wrapper
 * calls the guard's, which must not take "`res.write` is not mine" for "I stepped aside".
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
const events: GuardEvent[] = [];
let open: Response | undefined;
let srv: Listening;
let bytesLogged = 0;

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', auth.protect(), (_req, res, next) => {
    // An ordinary response-size logger, mounted after the guard.
    const write = res.write;
    res.write = function countingWrite(this: Response, chunk: unknown, ...rest: unknown[]): boolean {
      bytesLogged += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Buffer).length;
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Response['write'];
    next();
  }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    open = res;
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

function openGet(token: string): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${srv.url}/mcp`, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      resolve({ res, text: () => text, ended: new Promise<void>((r) => res.on('end', () => r())) });
    });
    req.on('error', reject);
    req.end();
  });
}

async function push(s: { res: IncomingMessage; text: () => string }, data: string): Promise<void> {
  const before = s.text().length;
  const arrived = new Promise<void>((r) => {
    const check = (): void => { if (s.text().length > before) { s.res.off('data', check); r(); } };
    s.res.on('data', check);
    s.res.on('end', () => r());
  });
  open!.write(`data: ${data}\n\n`);
  await arrived;
}

test('a GET event stream ends at exp also when a later middleware wraps res.write', async () => {
  const s = await openGet(await fx.token({ sub: 'alice', client_id: 'client-a', iat: clock.seconds(), exp: clock.seconds() + 60 }));
  await push(s, 'first');
  expect(s.text()).toContain('first');
  clock.advance(66_000);
  await push(s, 'after-expiry');
  try {
    expect(bytesLogged).toBeGreaterThan(0);
    expect(s.text()).not.toContain('after-expiry');
    expect(events.map((e) => e.type)).toContain('stream_ended');
  } finally {
    open!.end();
    await s.ended;
  }
});
