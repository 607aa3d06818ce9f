/**
 * Between a token's `exp` and `exp` + `clockTolerance` the guard still accepts it, but caches no
 * answer (its lifetime would be negative), and an authorization server whose clock is a little
 * behind answers `active: true` with the same `exp`. Such an answer is past its `askAgainAtMs` as
 * soon as it comes; the writes held for it still go out on it, after one introspection for the
 * stream, rather than asking again at once, in a loop, with nothing delivered (each later write
 * asks again, as each request does then).
 */
import express, { type Response } from 'express';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from '../helpers/opaque.js';
import { openStream } from '../helpers/sse-client.js';

const clock = fakeClock(1_800_000_000_000);
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 300, clockTolerance: 60 }));
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

test('30 s past exp (clockTolerance 60), the authorization server still vouching: the held write goes out after one introspection, as a request is allowed', async () => {
  const token = opaqueToken();
  const exp = clock.seconds() + 100;
  // The authorization server's clock is behind: it still calls the token active, with its exp.
  const LOOPS = 25;
  let looped!: () => void;
  const loopedP = new Promise<void>((r) => { looped = r; });
  as.introspect = () => {
    if (as.counts.introspection >= LOOPS) looped();
    return { body: activeAnswer(as, clock.seconds(), { exp }) };
  };
  const s = await openStream(`${srv.url}/mcp`, token, 'GET');
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;

  clock.advance(130_000); // exp + 30 s: within clockTolerance
  const post = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) });
  await post.arrayBuffer();
  expect(post.status).toBe(200); // a request is allowed now
  as.resetCounts();

  const arrived = new Promise<void>((r) => {
    s.res.on('data', () => { if (s.text().includes('data: after')) r(); });
    s.res.on('end', () => r());
  });
  res.write('data: after\n\n');
  // Whichever comes first: the write reaches the client, or the stream has asked LOOPS times.
  await Promise.race([arrived, loopedP]);
  const delivered = s.text().includes('data: after');
  const calls = as.counts.introspection;

  // Stop any loop: past exp + clockTolerance the next gate ends the stream (token_expired).
  clock.advance(60_000);
  if (!res.writableEnded) res.end();
  await s.ended;

  expect({ delivered, callsAtMostTwo: calls <= 2 }).toEqual({ delivered: true, callsAtMostTwo: true });
});
