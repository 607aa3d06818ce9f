/**
 * Streams opened around the same time (clients reconnecting after a deploy) age together: a
 * broadcast write after their answers aged asks about every token in the same tick, more calls than
 * `introspection.maxConcurrent`. The guard's own bound, meant for floods of made-up tokens, does not
 * cut them: a stream's recheck waits for a slot (in order) instead of being refused, so every
 * stream gets the broadcast and none ends (`stream_ended` never emitted).
 */
import express, { type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, RS_CLIENT } from '../helpers/opaque.js';
import { openStream, type Opened } from '../helpers/sse-client.js';

const MAX_AGE_S = 60;
const clock = fakeClock();
const events: GuardEvent[] = [];
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  guard = mcpAuth(opaqueOptions(as, {
    clock,
    cacheMaxAgeSeconds: MAX_AGE_S,
    introspection: { ...RS_CLIENT, maxConcurrent: 2 },
    onEvent: (e) => { events.push(e); },
  }));
  const app = express();
  app.get('/mcp', guard.protect(), (_req, res) => {
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

/** Until the client has more than `before` characters, or its stream ended. */
function arrival(s: Opened, before: number): Promise<void> {
  return new Promise<void>((r) => {
    const check = (): void => { if (s.text().length > before) r(); };
    s.res.on('data', check);
    s.res.on('end', () => r());
  });
}

test('a broadcast to three aged streams of active tokens, maxConcurrent 2: every stream gets it', async () => {
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds()) });
  const streams: { s: Opened; res: Response }[] = [];
  for (let i = 0; i < 3; i++) {
    const s = await openStream(`${srv.url}/mcp`, opaqueToken(), 'GET');
    expect(s.res.statusCode).toBe(200);
    streams.push({ s, res: opened.at(-1)! });
  }
  clock.advance(MAX_AGE_S * 1000 + 1);
  const arrived = streams.map(({ s }) => arrival(s, s.text().length));
  // The server broadcasts one notification to every open stream.
  for (const { res } of streams) res.write('data: broadcast\n\n');
  await Promise.all(arrived);
  const ended = events.filter((e) => e.type === 'stream_ended');
  const received = streams.map(({ s }) => s.text().includes('data: broadcast'));
  for (const { s, res } of streams) {
    if (!res.writableEnded) res.end();
    await s.ended;
  }
  expect(ended).toEqual([]);
  expect(received).toEqual([true, true, true]);
});
