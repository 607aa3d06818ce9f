/**
 * `writeHead`'s headers object may name one header twice, in different case, as a spread of
 * defaults does: `{ ...{ 'content-type': 'application/json' }, 'Content-Type': 'text/event-stream' }`.
 * Node sets each in turn (when a header was set on `res` before, as Express's X-Powered-By), so the
 * last wins and the client gets an event stream. The guard reads the last one too: the stream is
 * watched, and ends at its first write after the recheck finds the token revoked.
 *
 * Real HTTP on 127.0.0.1; injected clock; no sleeps.
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const defaults = { 'content-type': 'application/json', 'cache-control': 'no-store' };
// X-Powered-By left on: Node merges writeHead's headers into res's.
const suite = recheckSuite({ writeHead: (res) => { res.writeHead(200, { ...defaults, 'Content-Type': 'text/event-stream' }); } });
const { clock, events } = suite;

test('a duplicate-cased Content-Type: the guard reads the one Node sends', async () => {
  let revoked = false;
  suite.as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const { s, res } = await suite.open(opaqueToken());
  // What Node sent: the last of the two.
  expect(s.res.headers['content-type']).toBe('text/event-stream');
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
