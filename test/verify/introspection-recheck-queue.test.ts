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
import { activeAnswer, opaqueToken, PING, RS_CLIENT } from '../helpers/opaque.js';
import { openStream } from '../helpers/sse-client.js';
import { recheckSuite, turnsUntil as until } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S, introspection: { ...RS_CLIENT, maxConcurrent: 1 } } });
const { clock, opened } = suite;

test('a request whose token a waiting stream recheck is introspecting gets 503 at once, as any request over maxConcurrent', async () => {
  const t = opaqueToken();
  const flood = opaqueToken();
  let releaseFlood!: () => void;
  suite.as.introspect = (req): IntrospectionAnswer | Promise<IntrospectionAnswer> => {
    if (req.token === flood) return new Promise((resolve) => { releaseFlood = () => resolve({ body: { active: false } }); });
    return { body: activeAnswer(suite.as, clock.seconds()) };
  };
  const s = await openStream(suite.url, t, 'GET');
  expect(s.res.statusCode).toBe(200);
  const stream = opened.at(-1)!;
  clock.advance(MAX_AGE_S * 1000 + 1);

  // The one slot: a made-up token's introspection, held by the authorization server.
  const floodReq = fetch(suite.url, { method: 'POST', headers: { Authorization: `Bearer ${flood}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) });
  await until(() => suite.as.introspectionRequests.some((r) => r.token === flood));
  expect(suite.as.introspectionRequests.some((r) => r.token === flood)).toBe(true);

  // The stream writes: its recheck of T waits for the slot.
  stream.write('data: tick\n\n');

  // Control: a request with another new token gets 503 at once, within the same bound.
  let control: number | undefined;
  void fetch(suite.url, { method: 'POST', headers: { Authorization: `Bearer ${opaqueToken()}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) })
    .then(async (r) => { control = r.status; await r.arrayBuffer(); });
  await until(() => control !== undefined);
  expect(control).toBe(503);

  // The stream's client (or anyone holding T) sends a request.
  let answered: number | undefined;
  const post = fetch(suite.url, { method: 'POST', headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) })
    .then(async (r) => { answered = r.status; await r.arrayBuffer(); return r.status; });
  await until(() => answered !== undefined);
  const beforeRelease = answered;

  // Teardown of the scenario: free the slot, let everything finish.
  releaseFlood();
  const status = await post;
  await (await floodReq).arrayBuffer();
  stream.end();
  await s.ended;

  // README: "would be one call more than maxConcurrent under way → 503 + Retry-After: 1, at once".
  expect({ beforeRelease, status }).toEqual({ beforeRelease: 503, status: 503 });
});
