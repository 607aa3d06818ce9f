/**
 * A stream the application ended itself is not the guard's to end: a stray write after `exp` on a
 * finished event stream (a keep-alive timer the app forgot) emits no `stream_ended`, and behaves
 * as it would without the guard.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';
import { openStream } from '../helpers/sse-client.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
const clock = fakeClock();
const events: GuardEvent[] = [];
let open: Response | undefined;
let srv: Listening;

beforeAll(async () => {
  const auth = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, clock, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', auth.protect(), (_req, res) => {
    res.setHeader('Content-Type', 'text/event-stream');
    res.on('error', () => {});
    res.end('data: done\n\n');
    open = res;
  });
  srv = await listen(app);
});
afterAll(() => srv.close());

test('no stream_ended for a stream the app ended itself before exp', async () => {
  const s = await openStream(`${srv.url}/mcp`, await fx.token({ iat: clock.seconds(), exp: clock.seconds() + 60 }), 'GET');
  await s.ended;
  expect(s.text()).toBe('data: done\n\n');
  clock.advance(66_000);
  open!.write('data: stray keep-alive\n\n', () => {});
  await new Promise((r) => setImmediate(r));
  expect(events.filter((e) => e.type === 'stream_ended')).toEqual([]);
});
