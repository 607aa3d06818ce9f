/**
 * A clock that steps back (an NTP correction) does not let a stream ride on its old introspection
 * answer: the cache drops an entry stored "in the future" so a request asks again at once, and a
 * stream's write made before its answer came (by the stepped-back clock) asks again too. The token
 * was revoked meanwhile: the stream ends (`token_revoked`) without that write.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const MAX_AGE_S = 60;
const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: MAX_AGE_S, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  app.post('/mcp', express.json(), guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guard.close();
  await as.close();
});

test('after the clock steps back an hour, a revoked token\'s stream is asked about again like its requests', async () => {
  const token = opaqueToken();
  let revoked = false;
  // exp far enough that the step back does not matter to it.
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'before');

  revoked = true;
  clock.advance(-3_600_000);

  // A request with the token now: the cache drops its entry (stored in the future) and asks: 401.
  const post = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  expect(post.status).toBe(401);

  // The stream: its next write still goes out on the old answer.
  await push(s, res, 'after-revocation');
  const ended = events.filter((e) => e.type === 'stream_ended');
  if (!res.writableEnded) res.end();
  await s.ended;
  expect(s.text()).not.toContain('after-revocation');
  expect(ended).toEqual([expect.objectContaining({ reason: 'token_revoked' })]);
});
