/**
 * Node's `res.writeHead(status, reason, headers)` takes `headers` from the third argument whenever
 * it is given, also when `reason` is `undefined` or `null`: `writeHead(200, undefined,
 * { 'Content-Type': 'text/event-stream' })` sends an event stream. The guard reads it the same way
 * (also when no header was set on `res` before, as with `app.disable('x-powered-by')`), so such a
 * stream is watched, and ends at its first write after its token is refused.
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
  const app = express();
  // (As helmet does. Otherwise Express's X-Powered-By makes Node copy writeHead's headers onto res.)
  app.disable('x-powered-by');
  app.get('/mcp', guard.protect(), (_req, res) => {
    // A status message left to Node: reason undefined, headers third.
    (res.writeHead as unknown as (...a: unknown[]) => void)(200, undefined, { 'Content-Type': 'text/event-stream' });
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

test('writeHead(200, undefined, headers): a revoked token\'s stream still ends at its next write', async () => {
  let revoked = false;
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds()) });
  const s = await openStream(`${srv.url}/mcp`, opaqueToken(), 'GET');
  expect(s.res.statusCode).toBe(200);
  expect(s.res.headers['content-type']).toBe('text/event-stream');
  const res = opened.at(-1)!;
  await push(s, res, 'before');
  revoked = true;
  clock.advance(61_000);
  await push(s, res, 'after');
  const endedEvents = events.filter((e) => e.type === 'stream_ended');
  if (!res.writableEnded) res.end();
  await s.ended;
  expect(s.text()).toContain('data: before');
  expect(s.text()).not.toContain('data: after');
  expect(endedEvents).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
});
