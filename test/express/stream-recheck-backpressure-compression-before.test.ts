/**
 * With a compressor mounted before `protect()` (what the README recommends for event streams),
 * `compression@1.x`'s `res.on` puts a 'drain' listener on its zlib stream: a 'drain' the guard
 * emits on the response would never reach a writer waiting for one. So there the guard does not
 * slow the writer: held writes answer `true` (as before held writes were bounded), and nobody is
 * left waiting. Token revoked: the stream ends, the writer's held writes dropped. Token still
 * active: everything goes out and decodes. (Found by a review: a writer told `false` waited for
 * zlib's 'drain' for ever once the refusal dropped its writes.)
 */
import { gunzipSync, type Gzip } from 'node:zlib';
import type { Response } from 'express';
import { activeAnswer } from '../helpers/opaque.js';
import { recheckSuite } from '../helpers/recheck-suite.js';
import { compressionLike } from '../helpers/compression-like.js';

/** Each response's zlib stream. */
const zlibOf = new WeakMap<Response, Gzip>();
let current: Gzip;
const compressing = compressionLike({ onStream: (z) => { current = z; } });

const MAX_AGE_S = 60;
const CHUNK = `data: ${'x'.repeat(1000)}\n\n`;
/** Four times Node's default writableHighWaterMark (16 KiB on Node 20) of events. */
const EVENTS = 64;
const suite = recheckSuite({
  options: { cacheMaxAgeSeconds: MAX_AGE_S },
  before: [(req, res, next) => compressing(req, res, () => { zlibOf.set(res, current); next(); })],
});
const { clock } = suite;

/** Open a stream whose next write asks again, write `EVENTS` events while the answer waits, counting `false`s; then answer `late`. */
async function writeWhileHeld(late: () => Record<string, unknown>) {
  const { s, res, asked, answer } = await suite.openAged(late);
  let falses = 0;
  for (let i = 0; i < EVENTS; i++) if (!res.write(CHUNK)) falses++;
  await asked;
  answer();
  return { s, res, falses };
}

test('token revoked while held: the writer was never told to wait, and the stream ends without its writes', async () => {
  suite.events.length = 0;
  const w = await writeWhileHeld(() => ({ active: false }));
  expect(w.falses).toBe(0);
  const zlibClosed = new Promise<void>((r) => zlibOf.get(w.res)!.once('close', () => r()));
  await w.s.ended;
  await zlibClosed;
  expect(w.res.writableFinished).toBe(true);
  expect(suite.streamEnded()).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
  expect(gunzipSync(w.s.bytes(), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString()).toBe('');
});

test('control: token still active, every held write goes out and the body decodes whole', async () => {
  suite.events.length = 0;
  const w = await writeWhileHeld(() => activeAnswer(suite.as, clock.seconds(), { exp: clock.seconds() + 7200 }));
  expect(w.falses).toBe(0);
  w.res.end();
  await w.s.ended;
  expect(gunzipSync(w.s.bytes()).toString()).toBe(CHUNK.repeat(EVENTS));
  expect(suite.streamEnded()).toEqual([]);
});
