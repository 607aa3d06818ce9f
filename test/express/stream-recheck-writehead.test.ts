/**
 * The guard reads an event stream's `Content-Type` from `res.writeHead` as Node does, so the stream
 * is watched, and ends at its first write after its token is refused:
 * - `writeHead(status, reason, headers)` takes `headers` from the third argument whenever it is
 *   given, also when `reason` is `undefined` or `null` (read so also when no header was set on
 *   `res` before, as with `app.disable('x-powered-by')`, when Node does not copy them onto `res`);
 * - headers naming one header twice in different case, as a spread of defaults does
 *   (`{ ...{ 'content-type': 'application/json' }, 'Content-Type': 'text/event-stream' }`): Node
 *   sets each in turn (a header was set on `res` before: Express's X-Powered-By), so the last wins.
 */
import { opaqueToken } from '../helpers/opaque.js';
import { recheckSuite, type RecheckSuite } from '../helpers/recheck-suite.js';
import { push } from '../helpers/sse-client.js';

function revokedStreamEnds(suite: RecheckSuite): () => Promise<void> {
  return async () => {
    const { clock } = suite;
    const revoke = suite.answerUntilRevoked();
    const { s, res } = await suite.open(opaqueToken());
    // What Node sent.
    expect(s.res.headers['content-type']).toBe('text/event-stream');
    await push(s, res, 'before');
    revoke();
    clock.advance(61_000);
    await push(s, res, 'after');
    const ended = suite.streamEnded();
    if (!res.writableEnded) res.end();
    await s.ended;
    expect(s.text()).toContain('data: before');
    expect(s.text()).not.toContain('data: after');
    expect(ended).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  };
}

describe('writeHead(200, undefined, headers)', () => {
  const suite = recheckSuite({
    // (As helmet does. Otherwise Express's X-Powered-By makes Node copy writeHead's headers onto res.)
    configure: (app) => { app.disable('x-powered-by'); },
    // A status message left to Node: reason undefined, headers third.
    writeHead: (res) => { (res.writeHead as unknown as (...a: unknown[]) => void)(200, undefined, { 'Content-Type': 'text/event-stream' }); },
  });
  test("a revoked token's stream still ends at its next write", revokedStreamEnds(suite));
});

describe('a duplicate-cased Content-Type', () => {
  const defaults = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  // X-Powered-By left on: Node merges writeHead's headers into res's.
  const suite = recheckSuite({ writeHead: (res) => { res.writeHead(200, { ...defaults, 'Content-Type': 'text/event-stream' }); } });
  test("the guard reads the one Node sends: a revoked token's stream ends at its next write", revokedStreamEnds(suite));
});
