/**
 * Stream expiry covers `res.end(data)` too: a handler that writes an event and ends with a last one
 * in the same turn, past the token's life, neither crashes the process (the write ended the
 * answer, so `end(data)` would be a write after end: an 'error' event nobody listens to) nor
 * delivers that last event.
 */
import express, { type Response } from 'express';
import { mcpAuth } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';
import { openStream } from '../helpers/sse-client.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
let srv: Listening;
let behaviour: (res: Response) => void = () => {};
const errors: unknown[] = [];

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock }));
  const app = express();
  app.get('/mcp', auth.protect(), (_req, res) => {
    res.on('error', (e) => errors.push(e));
    res.setHeader('Content-Type', 'text/event-stream');
    res.flushHeaders();
    behaviour(res);
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

const tokenFor = (seconds: number) => fx.token({ iat: clock.seconds(), exp: clock.seconds() + seconds });

test('write + end(last event) past exp: no write-after-end error on the response (it would crash the process)', async () => {
  errors.length = 0;
  behaviour = (res) => {
    clock.advance(66_000);
    res.write('data: update\n\n');   // ended here by the guard, dropped
    res.end('data: bye\n\n');        // a write after end
  };
  const s = await openStream(`${srv.url}/mcp`, await tokenFor(60), 'GET');
  await s.ended;
  await new Promise((r) => setImmediate(r));
  expect(s.text()).toBe('');
  expect(errors).toEqual([]);
});

test('end(last event) past exp is not delivered', async () => {
  behaviour = (res) => {
    clock.advance(66_000);
    res.end('data: task result after exp\n\n');
  };
  const s = await openStream(`${srv.url}/mcp`, await tokenFor(60), 'GET');
  await s.ended;
  // Let in (200), and ended without the event: not refused.
  expect(s.res.statusCode).toBe(200);
  expect(s.text()).toBe('');
});
