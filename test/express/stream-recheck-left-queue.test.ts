/**
 * A stream's recheck that waits for an introspection slot (`introspection.maxConcurrent`) is not
 * made once every client waiting for it has left: the authorization server is not asked about a
 * token nobody listens with any more, and the streams queued behind it get the slot. Streams of
 * one token share one recheck: it is still made while one of them is open. Real HTTP to a loopback
 * introspection endpoint the test controls; an injected clock.
 */
import type { Response } from 'express';
import { activeAnswer, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import type { Opened } from '../helpers/sse-client.js';
import { recheckSuite, turnsUntil } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
// maxConcurrent 2: rechecks hold one slot at a time.
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S, introspection: { ...RS_CLIENT, maxConcurrent: 2 } } });
const { clock } = suite;

interface Stream { s: Opened; res: Response; token: string }

/**
 * Open streams for `tokens` (answered active), age their answers, and let the first token's recheck
 * hang: returns the streams, the tokens asked about since, and `answerFirst()`.
 */
async function queued(tokens: string[]) {
  const asked: string[] = [];
  let rechecking = false;
  let answerFirst!: () => void;
  let firstAsked!: () => void;
  const firstAskedP = new Promise<void>((r) => { firstAsked = r; });
  suite.as.introspect = (req) => {
    const answer = { body: activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }) };
    if (!rechecking) return answer;
    asked.push(req.token!);
    if (req.token !== tokens[0]) return answer;
    firstAsked();
    return new Promise((resolve) => { answerFirst = () => resolve(answer); });
  };
  const streams: Stream[] = [];
  for (const token of tokens) streams.push({ ...(await suite.open(token)), token });
  rechecking = true;
  clock.advance(MAX_AGE_S * 1000 + 1);
  // The first stream's write takes the one recheck slot; the others' wait, in order.
  streams[0]!.res.write('data: first\n\n');
  await firstAskedP;
  for (const { res } of streams.slice(1)) res.write('data: queued\n\n');
  return { streams, asked, answerFirst: () => answerFirst() };
}

/** The client of `stream` leaves; resolves once the server has seen it. */
async function leave({ s, res }: Stream): Promise<void> {
  const closed = new Promise<void>((r) => res.once('close', () => r()));
  s.res.destroy();
  await closed;
}

async function endAll(streams: Stream[]): Promise<void> {
  for (const { s, res } of streams) {
    if (res.destroyed) continue;
    if (!res.writableEnded) res.end();
    await s.ended;
  }
}

test('a queued recheck whose only client left is not made: the stream behind it gets the slot', async () => {
  const [a, b, c] = [opaqueToken(), opaqueToken(), opaqueToken()];
  const { streams, asked, answerFirst } = await queued([a, b, c]);
  await leave(streams[1]!);
  answerFirst();
  const live = [streams[0]!, streams[2]!];
  await turnsUntil(() => live.every(({ s }) => s.text().includes('data: ')) && asked.length >= 2);
  await turnsUntil(() => false, 50);
  expect(asked).toEqual([a, c]);
  expect(streams[0]!.s.text()).toContain('data: first');
  expect(streams[2]!.s.text()).toContain('data: queued');
  expect(suite.streamEnded()).toEqual([]);
  await endAll(streams);
});

test('control: nobody left, every queued recheck is made in order', async () => {
  const [a, b, c] = [opaqueToken(), opaqueToken(), opaqueToken()];
  const { streams, asked, answerFirst } = await queued([a, b, c]);
  answerFirst();
  await turnsUntil(() => streams.every(({ s }) => s.text().includes('data: ')));
  expect(asked).toEqual([a, b, c]);
  await endAll(streams);
});

test('two streams of one token share its queued recheck: it is still made when one of them left, and the other gets its write', async () => {
  const [a, b] = [opaqueToken(), opaqueToken()];
  const { streams, asked, answerFirst } = await queued([a, b, b]);
  await leave(streams[1]!);
  answerFirst();
  await turnsUntil(() => streams[2]!.s.text().includes('data: queued'));
  expect(asked).toEqual([a, b]);
  expect(streams[2]!.s.text()).toContain('data: queued');
  expect(suite.streamEnded()).toEqual([]);
  await endAll(streams);
});
