/**
 * Streams opened around the same time (clients reconnecting after a deploy) age together: a
 * broadcast write after their answers aged asks about every token in the same tick, more calls than
 * `introspection.maxConcurrent`. The guard's own bound, meant for floods of made-up tokens, does not
 * cut them: a stream's recheck waits for a slot (in order) instead of being refused, so every
 * stream gets the broadcast and none ends (`stream_ended` never emitted).
 */
import type { Response } from 'express';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import type { Opened } from '../helpers/sse-client.js';
import { recheckSuite } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S, introspection: { ...RS_CLIENT, maxConcurrent: 2 } } });
const { clock } = suite;

/** Until the client has more than `before` characters, or its stream ended. */
function arrival(s: Opened, before: number): Promise<void> {
  return new Promise<void>((r) => {
    const check = (): void => { if (s.text().length > before) r(); };
    s.res.on('data', check);
    s.res.on('end', () => r());
  });
}

test('a broadcast to three aged streams of active tokens, maxConcurrent 2: every stream gets it', async () => {
  suite.as.introspect = () => ({ body: activeAnswer(suite.as, clock.seconds()) });
  const streams: { s: Opened; res: Response }[] = [];
  for (let i = 0; i < 3; i++) {
    streams.push(await suite.open(opaqueToken()));
  }
  clock.advance(MAX_AGE_S * 1000 + 1);
  const arrived = streams.map(({ s }) => arrival(s, s.text().length));
  // The server broadcasts one notification to every open stream.
  for (const { res } of streams) res.write('data: broadcast\n\n');
  await Promise.all(arrived);
  const ended = suite.streamEnded();
  const received = streams.map(({ s }) => s.text().includes('data: broadcast'));
  for (const { s, res } of streams) {
    if (!res.writableEnded) res.end();
    await s.ended;
  }
  expect(ended).toEqual([]);
  expect(received).toEqual([true, true, true]);
  // Three opens and three rechecks: more calls than maxConcurrent (2), none refused.
  expect(suite.as.counts.introspection).toBe(6);
});
