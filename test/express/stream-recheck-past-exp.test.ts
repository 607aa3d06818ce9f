/**
 * A stream relies on an introspection answer no longer than a request does: the cache drops an
 * answer at its `exp` (no `clockTolerance`), so from then on every request asks again, and so does
 * the stream's next write, rather than going on until `exp` + `clockTolerance`. A token revoked
 * shortly before its `exp` (or an authorization server that calls an expired token inactive) is
 * refused on requests and its stream ends, at the same instant.
 */
import { opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const suite = recheckSuite({ options: { cacheMaxAgeSeconds: 300, clockTolerance: 60 } });
const { clock } = suite;

test('at exp + 30 s (clockTolerance 60, cacheMaxAgeSeconds 300): a request with the revoked token is refused, and the stream it opened gets no more events', async () => {
  const token = opaqueToken();
  const exp = clock.seconds() + 100;
  const revoke = suite.answerUntilRevoked({ exp });
  const { s, res } = await suite.open(token);
  await push(s, res, 'before');

  // Revoked 10 s before its exp; 30 s past exp the answer is 130 s old (< cacheMaxAgeSeconds).
  clock.advance(90_000);
  revoke();
  clock.advance(40_000);
  expect(await suite.post(token)).toBe(401);

  await push(s, res, 'after-exp');
  const delivered = s.text().includes('data: after-exp');
  const ended = suite.streamEnded().length;
  if (!res.writableEnded) res.end();
  await s.ended;
  expect({ delivered, ended }).toEqual({ delivered: false, ended: 1 });
});
