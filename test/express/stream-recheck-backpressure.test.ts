/**
 * While a stream's token is asked about again, its writes are held in memory; a writer that
 * honours `write()`'s `false` is slowed down as a slow client would slow it: past the response's
 * `writableHighWaterMark` of held bytes, `write()` returns `false`, and `'drain'` follows the
 * answer (the held writes gone out, or dropped when the token was refused), so a writer that
 * waits for it never hangs. Real HTTP to a loopback introspection endpoint the test controls; an
 * injected clock.
 */
import { activeAnswer } from '../helpers/opaque.js';
import { recheckSuite, turnsUntil } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
const CHUNK = `data: ${'x'.repeat(1000)}\n\n`;

const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S } });
const { clock } = suite;

/**
 * Open a stream, age its answer, then make the authorization server wait: `write` until it returns
 * `false` (at most 200 times), and report how many writes that took, whether 'drain' came before
 * the answer, and a function that lets the answer (`late`) come.
 */
async function writeUntilFull(late: () => Record<string, unknown>) {
  const { s, res, asked, answer } = await suite.openAged(late);
  let drained = 0;
  res.on('drain', () => { drained++; });
  let writes = 0;
  let full = false;
  while (writes < 200) {
    writes++;
    if (!res.write(CHUNK)) { full = true; break; }
  }
  await asked;
  const drainedBeforeAnswer = drained;
  return { s, res, writes, full, drainedBeforeAnswer, drained: () => drained, answer };
}

test('held writes past the highWaterMark: write() returns false, and drain follows an answer that keeps the stream', async () => {
  const w = await writeUntilFull(() => activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }));
  expect(w.full).toBe(true);
  // (The writer stopped at about the highWaterMark's worth of bytes, not after 200 KB.)
  expect(w.writes * CHUNK.length).toBeGreaterThanOrEqual(w.res.writableHighWaterMark);
  expect((w.writes - 1) * CHUNK.length).toBeLessThan(w.res.writableHighWaterMark);
  expect(w.drainedBeforeAnswer).toBe(0);
  w.answer();
  await turnsUntil(() => w.drained() > 0 && w.s.text().length >= w.writes * CHUNK.length);
  expect(w.drained()).toBe(1);
  expect(w.s.text()).toBe(CHUNK.repeat(w.writes));
  w.res.end();
  await w.s.ended;
  expect(suite.streamEnded()).toEqual([]);
});

test('held writes past the highWaterMark, the token revoked: drain still comes, and the stream ends without them', async () => {
  const w = await writeUntilFull(() => ({ active: false }));
  expect(w.full).toBe(true);
  w.answer();
  await w.s.ended;
  await turnsUntil(() => w.drained() > 0);
  expect(w.drained()).toBe(1);
  expect(w.s.text()).toBe('');
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
});

test('control: under the highWaterMark, a held write returns true and no drain is emitted', async () => {
  suite.events.length = 0;
  const { s, res, asked, answer } = await suite.openAged(() => activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }));
  let drained = 0;
  res.on('drain', () => { drained++; });
  expect(res.write(CHUNK)).toBe(true);
  await asked;
  answer();
  await turnsUntil(() => s.text().length >= CHUNK.length);
  expect(s.text()).toBe(CHUNK);
  await turnsUntil(() => false, 20);
  expect(drained).toBe(0);
  res.end();
  await s.ended;
});
