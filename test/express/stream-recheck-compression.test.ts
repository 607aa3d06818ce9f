/**
 * With a compressor mounted after `protect()` (`compression@1.x`'s pattern: its `res.end` does
 * nothing once called, and zlib's 'end' calls the `res.end` it captured, the guard's), a stream the
 * server ends while its recheck is pending still finishes when the recheck refuses the token: the
 * held `end` ends the response (the compressor has ended already), `stream_ended` `token_revoked`
 * is emitted once, and `data: bye` never reaches the client. When the token is still active, the
 * held output goes out and the body decodes.
 */
import { gunzipSync } from 'node:zlib';
import express, { type RequestHandler, type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream } from '../helpers/sse-client.js';
import { turnsUntil } from '../helpers/recheck-suite.js';
import { compressionLike } from '../helpers/compression-like.js';

const MAX_AGE_S = 60;
const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];
/** Resolved once the compressor's zlib stream has ended (and called the guard's `res.end`). */
let zlibEnded!: () => void;
let zlibEnd: Promise<void>;

/** compression@1.x's pattern (`test/helpers/compression-like.ts`); `zlibEnd` resolves once zlib has called the guard's `res.end`. */
const compressing: RequestHandler = (req, res, next) => {
  zlibEnd = new Promise<void>((r) => { zlibEnded = r; });
  compressionLike({ onZlibEnd: () => zlibEnded() })(req, res, next);
};

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: MAX_AGE_S, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', guard.protect(), compressing, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guard.close();
  await as.close();
});

test('the server ends its stream while the recheck is pending, the token is found revoked: the response still finishes', async () => {
  const token = opaqueToken();
  let revoked = false;
  let introspected!: () => void;
  const asked = new Promise<void>((r) => { introspected = r; });
  let answer!: () => void;
  as.introspect = () => {
    if (!revoked) return { body: activeAnswer(as, clock.seconds()) };
    introspected();
    return new Promise((resolve) => { answer = () => resolve({ body: { active: false } }); });
  };
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  expect(s.res.statusCode).toBe(200);
  let clientEnded = false;
  void s.ended.then(() => { clientEnded = true; });
  const res = opened.at(-1)!;
  let finished = false;
  res.on('finish', () => { finished = true; });

  revoked = true;
  clock.advance(MAX_AGE_S * 1000 + 1);
  // The server's last event and its end, after the answer aged: zlib's output and its end are held.
  res.end('data: bye\n\n');
  await asked;
  // zlib has given its end to the guard (held), before the answer comes.
  await zlibEnd;
  answer();
  await turnsUntil(() => events.some((e) => e.type === 'stream_ended'));
  expect(events.filter((e) => e.type === 'stream_ended')).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);

  await turnsUntil(() => finished && clientEnded);
  const state = { finished, clientEnded, writableEnded: res.writableEnded };
  if (!finished) res.destroy(); // (so the test ends either way)
  expect(state).toEqual({ finished: true, clientEnded: true, writableEnded: true });
  // What arrived, decoded (cut short: no clean gzip end), has nothing of the last event.
  expect(gunzipSync(s.bytes(), { finishFlush: 2 /* Z_SYNC_FLUSH */ }).toString()).not.toContain('bye');
});

test('control: the same sequence with the token still active finishes (the bounded wait is enough)', async () => {
  const token = opaqueToken();
  let again = false;
  let introspected!: () => void;
  const asked = new Promise<void>((r) => { introspected = r; });
  let answer!: () => void;
  as.introspect = () => {
    if (!again) return { body: activeAnswer(as, clock.seconds()) };
    introspected();
    return new Promise((resolve) => { answer = () => resolve({ body: activeAnswer(as, clock.seconds()) }); });
  };
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  let clientEnded = false;
  void s.ended.then(() => { clientEnded = true; });
  const res = opened.at(-1)!;
  let finished = false;
  res.on('finish', () => { finished = true; });
  again = true;
  clock.advance(MAX_AGE_S * 1000 + 1);
  res.end('data: bye\n\n');
  await asked;
  await zlibEnd;
  answer();
  await turnsUntil(() => finished && clientEnded);
  const state = { finished, clientEnded };
  if (!finished) res.destroy();
  expect(state).toEqual({ finished: true, clientEnded: true });
  // The held output went out: the body decodes, with the last event.
  expect(gunzipSync(s.bytes()).toString()).toContain('data: bye');
});
