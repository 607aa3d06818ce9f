/**
 * An introspection answer without `exp` does not end its stream: its `expiresAt` is the guard's
 * bound (`cacheMaxAgeSeconds`), not the token's. The first write after the answer is older than
 * `cacheMaxAgeSeconds` asks again, however long after (a stream that writes every 15-30 s, or with
 * `cacheMaxAgeSeconds: 0`); the token is still active for the same grant, so the write goes out and
 * no `stream_ended` is emitted.
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const clock = fakeClock();
let as: LoopbackAS;
beforeAll(async () => { as = await startLoopbackAS(); });
afterAll(async () => { await as.close(); });

test.each([
  [60, 30],
  // cacheMaxAgeSeconds 0: asked again after 1 s (a write 10 s later was ended as expired, before the fix).
  [0, 10],
])('an answer without exp, cacheMaxAgeSeconds %i: the stream\'s next write %i s after the answer aged asks again, and is not ended as expired', async (maxAgeS, gapS) => {
  const events: GuardEvent[] = [];
  const guard: McpAuthGuard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: maxAgeS, onEvent: (e) => { events.push(e); } }));
  const opened: Response[] = [];
  const app = express();
  app.get('/mcp', guard.protect(), (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.flushHeaders();
    opened.push(res);
  });
  app.post('/mcp', express.json(), guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
  const srv: Listening = await listen(app);
  try {
    const token = opaqueToken();
    // The authorization server never sends exp for this token; it stays active.
    as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: undefined }) });
    as.resetCounts();
    const s = await openStream(`${srv.url}/mcp`, token, 'GET');
    expect(s.res.statusCode).toBe(200);
    const res = opened.at(-1)!;
    await push(s, res, 'first');
    // A keep-alive period of gapS: the next write comes gapS after the answer got old.
    clock.advance((Math.max(maxAgeS, 1) + gapS) * 1000);

    await push(s, res, 'second');
    // The stream asked again itself (the open's call, then its own).
    expect(as.counts.introspection).toBe(2);

    // A request at this very instant is accepted too (the token is active; asked again or cached).
    const post = await fetch(`${srv.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(post.status).toBe(200);
    const ended = events.filter((e) => e.type === 'stream_ended');
    if (!res.writableEnded) res.end();
    await s.ended;
    expect(ended).toEqual([]);
    expect(s.text()).toContain('data: second');
  } finally {
    await srv.close();
    await guard.close();
  }
});
