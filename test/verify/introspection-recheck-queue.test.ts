/**
 * A request never waits for an introspection slot, even when a stream's recheck of the same token
 * is queued for one: while `introspection.maxConcurrent` calls are under way it gets 503
 * `AUTH_UNAVAILABLE` at once (with `introspection_failed` `too_many_calls`), as the README says; only
 * the stream's recheck waits (in order). A request does not join a verification that may wait.
 *
 * Scenario: maxConcurrent 1; a made-up token's introspection is held by the authorization server
 * (the one slot); a stream of token T aged and wrote (its recheck waits); a POST with T comes.
 */
import type { IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import { recheckSuite, turnsUntil as until } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S, introspection: { ...RS_CLIENT, maxConcurrent: 1 } } });
const { clock } = suite;

test('a request whose token a waiting stream recheck is introspecting gets 503 at once, as any request over maxConcurrent', async () => {
  const t = opaqueToken();
  const flood = opaqueToken();
  let releaseFlood!: () => void;
  suite.as.introspect = (req): IntrospectionAnswer | Promise<IntrospectionAnswer> => {
    if (req.token === flood) return new Promise((resolve) => { releaseFlood = () => resolve({ body: { active: false } }); });
    return { body: activeAnswer(suite.as, clock.seconds()) };
  };
  const { s, res: stream } = await suite.open(t);
  clock.advance(MAX_AGE_S * 1000 + 1);

  // The one slot: a made-up token's introspection, held by the authorization server.
  const floodReq = suite.post(flood);
  await until(() => suite.as.introspectionRequests.some((r) => r.token === flood));
  expect(suite.as.introspectionRequests.some((r) => r.token === flood)).toBe(true);

  // The stream writes: its recheck of T waits for the slot.
  stream.write('data: tick\n\n');

  // Control: a request with another new token gets 503 at once, within the same bound.
  let control: number | undefined;
  void suite.post(opaqueToken()).then((status) => { control = status; });
  await until(() => control !== undefined);
  expect(control).toBe(503);

  // The stream's client (or anyone holding T) sends a request.
  let answered: number | undefined;
  const post = suite.post(t).then((status) => { answered = status; return status; });
  await until(() => answered !== undefined);
  const beforeRelease = answered;

  // The stream's recheck of T has not reached the authorization server: it waits for the slot.
  const callsForT = () => suite.as.introspectionRequests.filter((r) => r.token === t).length;
  const waiting = callsForT();

  // Free the slot: the waiting recheck goes ahead, and the held write with it.
  releaseFlood();
  await post;
  await floodReq;
  await until(() => s.text().includes('data: tick'));
  expect({ waiting, afterRelease: callsForT(), delivered: s.text().includes('data: tick') }).toEqual({ waiting: 1, afterRelease: 2, delivered: true });
  stream.end();
  await s.ended;

  // README: "would be one call more than maxConcurrent under way → 503 + Retry-After: 1, at once".
  // (Answered before the slot freed: the request did not wait for it.)
  expect(beforeRelease).toBe(503);
});
