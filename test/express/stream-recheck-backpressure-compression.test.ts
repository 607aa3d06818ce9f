/**
 * With a compressor mounted after `protect()` (`compression@1.x`'s pattern: a `false` from the
 * guard's `res.write` pauses zlib until 'drain'), a stream that writes more than the response's
 * `writableHighWaterMark` while its token is asked about again, then ends, still finishes: when
 * the token is refused (zlib's output dropped, `stream_ended` `token_revoked`) and when it is still
 * active (every byte goes out and the body decodes).
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, type Gzip } from 'node:zlib';
import { activeAnswer } from '../helpers/opaque.js';
import { recheckSuite, turnsUntil } from '../helpers/recheck-suite.js';
import { compressionLike } from '../helpers/compression-like.js';

const MAX_AGE_S = 60;
const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S }, after: () => [compressionLike({ onStream: (z) => { gz = z; } })] });
const { clock } = suite;
/** The zlib stream of the response open now. */
let gz: Gzip;

/** 64 events of incompressible text (≈ 64 KiB after gzip), then the stream's end, while the answer waits; then `late`. */
async function bigEndWhileRechecking(late: () => Record<string, unknown>) {
  const { s, res, asked, answer } = await suite.openAged(late);
  const paused = new Promise((r) => gz.once('pause', r));
  let finished = false;
  res.on('finish', () => { finished = true; });
  let clientEnded = false;
  void s.ended.then(() => { clientEnded = true; });
  const events = Array.from({ length: 64 }, () => `data: ${randomBytes(768).toString('base64')}\n\n`);
  for (const e of events) res.write(e);
  res.end('data: bye\n\n');
  // zlib's output past the highWaterMark is held, and the guard's false paused zlib: nothing has finished.
  await paused;
  await asked;
  expect(finished).toBe(false);
  answer();
  await turnsUntil(() => finished && clientEnded);
  const state = { finished, clientEnded };
  if (!finished) res.destroy();
  return { s, state, events };
}

test('the token refused while a compressor waits for drain: the response still finishes, with nothing of the held output', async () => {
  suite.events.length = 0;
  const { s, state } = await bigEndWhileRechecking(() => ({ active: false }));
  expect(state).toEqual({ finished: true, clientEnded: true });
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(gunzipSync(s.bytes(), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString()).toBe('');
});

test('control: the token still active, every held byte goes out after drain and the body decodes whole', async () => {
  suite.events.length = 0;
  const { s, state, events } = await bigEndWhileRechecking(() => activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }));
  expect(state).toEqual({ finished: true, clientEnded: true });
  expect(suite.streamEnded()).toEqual([]);
  expect(gunzipSync(s.bytes()).toString()).toBe(events.join('') + 'data: bye\n\n');
});
