/**
 * `writeHead`'s headers object may name one header twice, in different case, as a spread of
 * defaults does: `{ ...{ 'content-type': 'application/json' }, 'Content-Type': 'text/event-stream' }`.
 * Node sets each in turn (when a header was set on `res` before, as Express's X-Powered-By), so the
 * last wins and the client gets an event stream. The guard reads the last one too: the stream is
 * watched, and ends at its first write after the recheck finds the token revoked.
 *
 * Real HTTP on 127.0.0.1; injected clock; no sleeps.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 60, onEvent: (e) => { events.push(e); } }));
  const app = express(); // X-Powered-By left on: Node merges writeHead's headers into res's
  const defaults = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { ...defaults, 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guard.close();
  await as.close();
});

test('a duplicate-cased Content-Type: the guard reads the one Node sends', async () => {
  let revoked = false;
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const s = await openStream(`${srv.url}/mcp`, opaqueToken(), 'GET');
  expect(s.res.statusCode).toBe(200);
  // What Node sent: the last of the two.
  expect(s.res.headers['content-type']).toBe('text/event-stream');
  const res = opened.at(-1)!;
  await push(s, res, 'before');
  revoked = true;
  clock.advance(61_000);
  await push(s, res, 'after');
  const ended = events.filter((e) => e.type === 'stream_ended');
  if (!res.writableEnded) res.end();
  await s.ended;
  expect(s.text()).toContain('data: before');
  expect(ended).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(s.text()).not.toContain('data: after');
});
