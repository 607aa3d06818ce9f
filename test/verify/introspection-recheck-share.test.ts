/**
 * Streams' rechecks hold at most half of `introspection.maxConcurrent` (at least one), so requests
 * always have the other half: with rechecks queued, a request with a new token still gets a slot
 * (the authorization server is asked), and only one over the whole bound gets 503 at once. The
 * queued rechecks start as slots free up, in order, and every stream then delivers. Real HTTP to a
 * loopback authorization server that holds its answers; an injected clock; no sleeps.
 */
import type { Response } from 'express';
import type { IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import type { Opened } from '../helpers/sse-client.js';
import { recheckSuite, turnsUntil as until } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S, introspection: { ...RS_CLIENT, maxConcurrent: 4 } } });
const { clock } = suite;

const post = (token: string) => suite.post(token);

test('rechecks take half the slots; requests get the rest; one over the bound gets 503; queued rechecks follow in order', async () => {
  const tokens = [opaqueToken(), opaqueToken(), opaqueToken(), opaqueToken()];
  suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds()) });
  const streams: { s: Opened; res: Response }[] = [];
  for (const t of tokens) streams.push(await suite.open(t));
  // From now on the authorization server holds every answer until told.
  const held: { token: string | null; answer: () => void }[] = [];
  suite.as.introspect = (req): Promise<IntrospectionAnswer> => new Promise((resolve) => {
    held.push({ token: req.token, answer: () => resolve({ body: activeAnswer(suite.as, clock.seconds()) }) });
  });
  clock.advance(MAX_AGE_S * 1000 + 1);
  for (const { res } of streams) res.write('data: tick\n\n');
  await until(() => held.length >= 2);
  // Two rechecks under way (half of 4); the other two wait.
  expect(held.map((h) => h.token)).toEqual(tokens.slice(0, 2));

  // Requests with new tokens take the other two slots: the authorization server is asked.
  const a = opaqueToken();
  const b = opaqueToken();
  const pa = post(a);
  const pb = post(b);
  await until(() => held.length >= 4);
  expect(held.slice(2).map((h) => h.token).sort()).toEqual([a, b].sort());
  // One more is over the whole bound: 503 at once.
  expect(await post(opaqueToken())).toBe(503);

  // Answer the first recheck: the third stream's recheck starts (in order), not before.
  held[0]!.answer();
  await until(() => held.length >= 5);
  expect(held[4]!.token).toBe(tokens[2]);
  // Answer everything, as it comes.
  for (let answered = 1; answered < 6; answered++) {
    await until(() => held.length > answered);
    held[answered]!.answer();
  }
  expect(await pa).toBe(200);
  expect(await pb).toBe(200);
  for (const { s, res } of streams) {
    await until(() => s.text().includes('data: tick'));
    expect(s.text()).toContain('data: tick');
    res.end();
    await s.ended;
  }
  expect(held.map((h) => h.token).filter((t) => tokens.includes(t!))).toEqual(tokens);
});
