/**
 * Held writes are counted in bytes, Node's socket counts a string's characters: events of
 * three-byte characters pass the response's `writableHighWaterMark` while held (so `write()`
 * returned `false`) and yet go out on the answer without Node ever needing 'drain'. The writer
 * still gets 'drain' once they have gone out, and goes on.
 */
import { activeAnswer } from '../helpers/opaque.js';
import { recheckSuite, turnsUntil } from '../helpers/recheck-suite.js';

const MAX_AGE_S = 60;
/** 1,000 characters of 3 bytes each in UTF-8. */
const CHUNK = `data: ${'€'.repeat(1000)}\n\n`;
const EVENTS = 40;

const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S } });
const { clock } = suite;

test('held writes of multi-byte text past the highWaterMark: drain follows the answer, and the writer goes on', async () => {
  const { s, res, asked, answer } = await suite.openAged(() => activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }));
  let drained = 0;
  res.on('drain', () => { drained++; });
  let written = 0;
  while (written < EVENTS) {
    written++;
    if (!res.write(CHUNK)) break;
  }
  // (Stopped at the mark's worth of bytes, a third of it in characters.)
  expect(written * Buffer.byteLength(CHUNK)).toBeGreaterThanOrEqual(res.writableHighWaterMark);
  expect(written * CHUNK.length).toBeLessThan(res.writableHighWaterMark);
  await asked;
  answer();
  await turnsUntil(() => drained > 0 && s.text().length >= written * CHUNK.length);
  expect(drained).toBe(1);
  expect(s.text()).toBe(CHUNK.repeat(written));
  while (written < EVENTS) { res.write(CHUNK); written++; }
  res.end();
  await s.ended;
  expect(s.text()).toBe(CHUNK.repeat(EVENTS));
  expect(suite.streamEnded()).toEqual([]);
});
