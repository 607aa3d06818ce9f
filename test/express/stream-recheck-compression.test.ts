/**
 * With a compressor mounted after `protect()` (`compression@1.x`'s pattern: its `res.end` does
 * nothing once called, and zlib's 'end' calls the `res.end` it captured, the guard's), a stream the
 * server ends while its recheck is pending still finishes when the recheck refuses the token: the
 * held `end` ends the response (the compressor has ended already), `stream_ended` `token_revoked`
 * is emitted once, and `data: bye` never reaches the client. When the token is still active, the
 * held output goes out and the body decodes.
 */
import { gunzipSync } from 'node:zlib';
import type { RequestHandler } from 'express';
import type { IntrospectionAnswer } from '../helpers/loopback-as.js';
import { activeAnswer } from '../helpers/opaque.js';
import { recheckSuite, turnsUntil } from '../helpers/recheck-suite.js';
import { compressionLike } from '../helpers/compression-like.js';

const MAX_AGE_S = 60;
/** Resolved once the compressor's zlib stream has ended (and called the guard's `res.end`). */
let zlibEnded!: () => void;
let zlibEnd: Promise<void>;

/** compression@1.x's pattern (`test/helpers/compression-like.ts`); `zlibEnd` resolves once zlib has called the guard's `res.end`. */
const compressing: RequestHandler = (req, res, next) => {
  zlibEnd = new Promise<void>((r) => { zlibEnded = r; });
  compressionLike({ onZlibEnd: () => zlibEnded() })(req, res, next);
};

const suite = recheckSuite({ options: { cacheMaxAgeSeconds: MAX_AGE_S }, after: () => [compressing] });
const { clock } = suite;

/**
 * Open a stream, then, once its answer aged, end it with `data: bye` (zlib's output and its end are
 * held by the recheck), and let the authorization server give `late` once zlib has ended: the
 * client side, and whether the response finished and the client saw the end.
 */
async function endWhileRechecking(late: () => IntrospectionAnswer['body']): Promise<{ s: Awaited<ReturnType<typeof suite.open>>['s']; state: { finished: boolean; clientEnded: boolean; writableEnded: boolean } }> {
  const { s, res, asked, answer } = await suite.openAged(late);
  let clientEnded = false;
  void s.ended.then(() => { clientEnded = true; });
  let finished = false;
  res.on('finish', () => { finished = true; });

  // The server's last event and its end, after the answer aged: zlib's output and its end are held.
  res.end('data: bye\n\n');
  await asked;
  // zlib has given its end to the guard (held), before the answer comes.
  await zlibEnd;
  answer();
  await turnsUntil(() => finished && clientEnded);
  const state = { finished, clientEnded, writableEnded: res.writableEnded };
  if (!finished) res.destroy(); // (so the test ends either way)
  return { s, state };
}

test('the server ends its stream while the recheck is pending, the token is found revoked: the response still finishes', async () => {
  const { s, state } = await endWhileRechecking(() => ({ active: false }));
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(state).toEqual({ finished: true, clientEnded: true, writableEnded: true });
  // What arrived, decoded (cut short: no clean gzip end), is nothing: the last event was the only one.
  expect(gunzipSync(s.bytes(), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString()).toBe('');
});

test('control: the same sequence with the token still active finishes (the bounded wait is enough)', async () => {
  const before = suite.streamEnded().length;
  const { s, state } = await endWhileRechecking(() => activeAnswer(suite.as, clock.seconds()));
  expect(state).toEqual({ finished: true, clientEnded: true, writableEnded: true });
  expect(suite.streamEnded()).toHaveLength(before);
  // The held output went out: the body decodes, with the last event.
  expect(gunzipSync(s.bytes()).toString()).toContain('data: bye');
});
