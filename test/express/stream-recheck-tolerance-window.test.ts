/**
 * Between a token's `exp` and `exp` + `clockTolerance` the guard still accepts it, but caches no
 * answer (its lifetime would be negative), and an authorization server whose clock is a little
 * behind answers `active: true` with the same `exp`. Such an answer is past its `askAgainAtMs` as
 * soon as it comes; the writes held for it still go out on it, after one introspection for the
 * stream, rather than asking again at once, in a loop, with nothing delivered (each later write
 * asks again, as each request does then).
 */
import { activeAnswer, opaqueToken } from '../helpers/opaque.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const suite = recheckSuite({ startMs: 1_800_000_000_000, options: { cacheMaxAgeSeconds: 300, clockTolerance: 60 } });
const { clock } = suite;

test('30 s past exp (clockTolerance 60), the authorization server still vouching: the held write goes out after one introspection, as a request is allowed', async () => {
  const { as } = suite;
  const token = opaqueToken();
  const exp = clock.seconds() + 100;
  // The authorization server's clock is behind: it still calls the token active, with its exp.
  const LOOPS = 25;
  let looped!: () => void;
  const loopedP = new Promise<void>((r) => { looped = r; });
  as.introspect = () => {
    if (as.counts.introspection >= LOOPS) looped();
    return { body: activeAnswer(as, clock.seconds(), { exp }) };
  };
  const { s, res } = await suite.open(token);

  clock.advance(130_000); // exp + 30 s: within clockTolerance
  expect(await suite.post(token)).toBe(200); // a request is allowed now
  as.resetCounts();

  const arrived = new Promise<void>((r) => {
    s.res.on('data', () => { if (s.text().includes('data: after')) r(); });
    s.res.on('end', () => r());
  });
  res.write('data: after\n\n');
  // Whichever comes first: the write reaches the client, or the stream has asked LOOPS times.
  await Promise.race([arrived, loopedP]);
  const delivered = s.text().includes('data: after');
  const calls = as.counts.introspection;

  // Stop any loop: past exp + clockTolerance the next gate ends the stream (token_expired).
  clock.advance(60_000);
  if (!res.writableEnded) res.end();
  await s.ended;

  expect({ delivered, calls }).toEqual({ delivered: true, calls: 1 });
});
