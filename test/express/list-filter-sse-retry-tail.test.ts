/**
 * The list filter drops the incomplete SSE event a stream ends in the middle of (a client never
 * dispatches it, and it could be an unfiltered list answer), but keeps its complete `retry` lines:
 * a client applies a `retry` field as soon as it reads it, dispatch or not (the MCP SDK client's
 * reconnection delay). Here a server ends a resumed GET stream (`Last-Event-ID`, so the filter is
 * installed under a tool policy) with `retry: 5000\n` and no empty line after it; the client gets
 * it, as the control without the filter does.
 *
 * Real HTTP on 127.0.0.1; injected clock; no sleeps.
 */
import express, { type Response } from 'express';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { fakeClock } from '../helpers/clock.js';
import { listen, type Listening } from '../helpers/http.js';
import { startLoopbackAS, type LoopbackAS } from '../helpers/loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken } from '../helpers/opaque.js';
import { openStream, push } from '../helpers/sse-client.js';

const clock = fakeClock();
let as: LoopbackAS;
let guard: McpAuthGuard;
let srv: Listening;
const opened: Response[] = [];

beforeAll(async () => {
  as = await startLoopbackAS();
  as.introspect = () => ({ body: activeAnswer(as, clock.seconds(), { exp: clock.seconds() + 7200 }) });
  guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 60, toolScopes: { 'notes_*': ['notes:read'], 'admin_*': ['admin'] } }));
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

async function endWithRetry(headers: Record<string, string>): Promise<string> {
  const s = await openStream(`${srv.url}/mcp`, opaqueToken(), 'GET', undefined, headers);
  expect(s.res.statusCode).toBe(200);
  const res = opened.at(-1)!;
  await push(s, res, 'hello');
  // The server closes the stream, telling the client when to come back (no empty line after it).
  res.end('retry: 5000\n');
  await s.ended;
  return s.text();
}

test('control: without the filter, the client gets the retry field', async () => {
  const text = await endWithRetry({});
  expect(text).toContain('data: hello');
  expect(text).toContain('retry: 5000');
});

test('on a resumed (filtered) stream, a trailing retry field a conforming client applies is not dropped', async () => {
  const text = await endWithRetry({ 'Last-Event-ID': 'e1' });
  expect(text).toContain('data: hello');
  expect(text).toContain('retry: 5000');
});
