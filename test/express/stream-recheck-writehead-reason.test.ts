/**
 * Node's `res.writeHead(status, reason, headers)` takes `headers` from the third argument whenever
 * it is given, also when `reason` is `undefined` or `null`: `writeHead(200, undefined,
 * { 'Content-Type': 'text/event-stream' })` sends an event stream. The guard reads it the same way
 * (also when no header was set on `res` before, as with `app.disable('x-powered-by')`), so such a
 * stream is watched, and ends at its first write after its token is refused.
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const suite = recheckSuite({
  // (As helmet does. Otherwise Express's X-Powered-By makes Node copy writeHead's headers onto res.)
  configure: (app) => { app.disable('x-powered-by'); },
  // A status message left to Node: reason undefined, headers third.
  writeHead: (res) => { (res.writeHead as unknown as (...a: unknown[]) => void)(200, undefined, { 'Content-Type': 'text/event-stream' }); },
});
const { clock, events } = suite;

test('writeHead(200, undefined, headers): a revoked token\'s stream still ends at its next write', async () => {
  let revoked = false;
  suite.as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(suite.as, clock.seconds()) });
  const { s, res } = await suite.open(opaqueToken());
  expect(s.res.headers['content-type']).toBe('text/event-stream');
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
