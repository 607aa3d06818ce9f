/**
 * A clock that steps back (an NTP correction) does not let a stream ride on its old introspection
 * answer: the cache drops an entry stored "in the future" so a request asks again at once, and a
 * stream's write made before its answer came (by the stepped-back clock) asks again too. The token
 * was revoked meanwhile: the stream ends (`token_revoked`) without that write.
 */
import { opaqueToken } from '../helpers/opaque.js';
import { push } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S } });
const { clock } = suite;

test('after the clock steps back an hour, a revoked token\'s stream is asked about again like its requests', async () => {
  const token = opaqueToken();
  const revoke = suite.answerUntilRevoked();
  // exp far enough that the step back does not matter to it.
  const { s, res } = await suite.open(token);
  await push(s, res, 'before');

  revoke();
  clock.advance(-3_600_000);

  // A request with the token now: the cache drops its entry (stored in the future) and asks: 401.
  expect(await suite.post(token)).toBe(401);

  // The stream: its next write asks again too, and the stream ends without it.
  await push(s, res, 'after-revocation');
  const ended = suite.streamEnded();
  if (!res.writableEnded) res.end();
  await s.ended;
  expect(s.text()).not.toContain('after-revocation');
  expect(ended).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
});
