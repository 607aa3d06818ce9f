/**
 * A stream relies on an introspection answer no longer than a request does: the cache drops an
 * answer at its `exp` (no `clockTolerance`), so from then on every request asks again, and so does
 * the stream's next write, rather than going on until `exp` + `clockTolerance`. A token revoked
 * shortly before its `exp` (or an authorization server that calls an expired token inactive) is
 * refused on requests and its stream ends, at the same instant.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const clock = fakeClock(1_800_000_000_000);
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 300, clockTolerance: 60, onEvent: (e) => { events.push(e); } }));
  const app = express();
  app.use(express.json());
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  app.post('/mcp', guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  srv = await listen(app);
});
afterAll(async () => {
  await srv.close();
  await guard.close();
  await as.close();
});

test('at exp + 30 s (clockTolerance 60, cacheMaxAgeSeconds 300): a request with the revoked token is refused, and the stream it opened gets no more events', async () => {
  const token = opaqueToken();
  const exp = clock.seconds() + 100;
  let revoked = false;
  as.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as, clock.seconds(), { exp }) });
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'before');

  // Revoked 10 s before its exp; 30 s past exp the answer is 130 s old (< cacheMaxAgeSeconds).
  clock.advance(90_000);
  revoked = true;
  clock.advance(40_000);
  const post = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) });
  await post.arrayBuffer();
  expect(post.status).toBe(401);

  await push(s, res, 'after-exp');
  const delivered = s.text().includes('data: after-exp');
  const ended = events.filter((e) => e.type === 'stream_ended').length;
  if (!res.writableEnded) res.end();
  await s.ended;
  expect({ delivered, ended }).toEqual({ delivered: false, ended: 1 });
});
